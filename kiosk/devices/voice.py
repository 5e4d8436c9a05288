"""The booth's voice: short spoken prompts (welcome, look at the lens, the countdown, your number
is printed, take your sheet) in French and English, made offline by espeak-ng.

Each prompt is rendered once into a WAV file in the data folder's ``voice/`` cache, named by a
hash of its text, voice and speed, so a changed sentence is rendered again and an unchanged one
never is. Playing is injected (:class:`SpokenVoice` takes a ``play`` function): the pygame mixer
player lives under ``kiosk/ui`` with the rest of pygame. Nothing here raises into the sale: a
prompt that cannot be rendered or played is logged and the booth stays silent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from ephoto.texts import texts

log = logging.getLogger(__name__)

PROMPTS: tuple[str, ...] = (
    "welcome",
    "look_at_lens",
    "countdown_3",
    "countdown_2",
    "countdown_1",
    "number_printed",
    "take_sheet",
)
"""The prompts the sale says (the countdown goes up to ``countdown_10`` for longer counts)."""
COUNTDOWN_PROMPTS = tuple(f"countdown_{n}" for n in range(1, 11))
ESPEAK_VOICES = {"fr": "fr-fr", "en": "en-gb"}
"""espeak-ng's voice for each language of the booth."""

Player = Callable[[Path, float], float]
"""Plays a WAV file at a volume (0-1) without waiting; returns the sound's length in seconds."""


class VoiceUnavailable(RuntimeError):
    """espeak-ng is missing or failed; the message says which prompt and why."""


class EspeakRenderer:
    """Renders prompts to cached WAV files with espeak-ng."""

    def __init__(self, cache: Path, *, speed: int = 150, executable: str = "espeak-ng"):
        self.cache = Path(cache)
        self.speed = speed
        self.executable = executable

    def text(self, prompt: str, lang: str) -> str:
        return texts("voice", lang).get(f"prompt.{prompt}")

    def path_for(self, prompt: str, lang: str) -> Path:
        voice = ESPEAK_VOICES.get(lang, lang)
        key = f"{voice}\n{self.speed}\n{self.text(prompt, lang)}".encode()
        return self.cache / f"{prompt}-{lang}-{hashlib.sha256(key).hexdigest()[:16]}.wav"

    def render(self, prompt: str, lang: str) -> Path:
        """The prompt's WAV file, rendered now if the cache does not have it yet."""
        target = self.path_for(prompt, lang)
        if target.exists():
            return target
        binary = shutil.which(self.executable)
        if binary is None:
            raise VoiceUnavailable(
                f"{self.executable} is not installed (Debian package espeak-ng): "
                f"cannot say {prompt!r}"
            )
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        voice = ESPEAK_VOICES.get(lang, lang)
        done = subprocess.run(
            [
                binary,
                "-v",
                voice,
                "-s",
                str(self.speed),
                "-w",
                str(partial),
                self.text(prompt, lang),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            raise VoiceUnavailable(
                f"espeak-ng failed on {prompt!r} ({lang}): {done.stderr.strip() or done.returncode}"
            )
        os.replace(partial, target)
        return target

    def render_all(self, langs: Iterable[str] = ESPEAK_VOICES) -> list[Path]:
        return [self.render(p, lang) for lang in langs for p in (*PROMPTS, *COUNTDOWN_PROMPTS)]


class SpokenVoice:
    """:class:`kiosk.devices.Voice` that renders with espeak-ng and plays through ``play``.

    Prompts are said one after the other on a thread of their own, so ``say`` returns at once
    and two prompts never talk over each other. ``volume`` (0-1) and ``muted`` are the operator
    menu's settings; a muted voice still renders, so unmuting is immediate.
    """

    def __init__(
        self,
        renderer: EspeakRenderer,
        play: Player,
        *,
        volume: float = 0.8,
        muted: bool = False,
        wait: Callable[[float], None] | None = None,
    ):
        self.renderer = renderer
        self._play = play
        self.volume = volume
        self.muted = muted
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._stopped = threading.Event()
        self._idle_events: list[threading.Event] = []
        self._wait = wait or self._stopped.wait
        self._thread = threading.Thread(target=self._speak, name="voice", daemon=True)
        self._thread.start()

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = min(1.0, max(0.0, float(value)))

    def say(self, prompt_key: str, lang: str) -> None:
        if not self._stopped.is_set():
            self._queue.put((prompt_key, lang))

    def warm_up(self, langs: Iterable[str] = ESPEAK_VOICES) -> None:
        """Render every prompt now (in the voice's thread), so the first sale speaks at once."""
        for lang in langs:
            for prompt in (*PROMPTS, *COUNTDOWN_PROMPTS):
                self._queue.put((f"render:{prompt}", lang))

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until every prompt asked so far was said (for tests and shutdown)."""
        done = threading.Event()
        self._idle_events.append(done)
        self._queue.put(("idle", ""))
        return done.wait(timeout)

    def close(self) -> None:
        self._stopped.set()
        self._queue.put(None)
        self._thread.join(5)

    def _speak(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            prompt, lang = item
            if prompt == "idle":
                self._idle_events.pop(0).set()
                continue
            try:
                if prompt.startswith("render:"):
                    self.renderer.render(prompt.removeprefix("render:"), lang)
                    continue
                path = self.renderer.render(prompt, lang)
                if self.muted or self.volume == 0:
                    continue
                length = self._play(path, self.volume)
            except Exception as exc:  # a voice never stops the sale
                log.warning("voice: cannot say %r in %s: %s", prompt, lang, exc)
                continue
            if length > 0:
                self._wait(length)  # let it finish before the next prompt starts
