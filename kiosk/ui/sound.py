"""Plays the voice's WAV files through pygame's mixer (pygame stays under ``kiosk/ui``).

The mixer is opened at the first prompt; a machine without a sound card logs it once and the
booth stays silent.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pygame

log = logging.getLogger(__name__)


class MixerPlayer:
    """A :data:`kiosk.devices.voice.Player`: starts the sound and returns its length."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: bool | None = None

    def _open(self) -> bool:
        with self._lock:
            if self._ready is None:
                try:
                    pygame.mixer.init()
                    self._ready = True
                except pygame.error as exc:
                    log.warning("no sound output (%s): the booth's voice stays silent", exc)
                    self._ready = False
            return self._ready

    def __call__(self, path: Path, volume: float) -> float:
        if not self._open():
            return 0.0
        sound = pygame.mixer.Sound(str(path))
        sound.set_volume(volume)
        sound.play()
        return float(sound.get_length())
