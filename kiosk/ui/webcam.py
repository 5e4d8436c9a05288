"""A real webcam through pygame's camera module, for booths configured with ``camera = "webcam"``.

Pictures are cropped to the ID-photo proportions (35 x 45) around the centre, like the booth's
framing guide. Without a camera the booth falls back to synthetic portraits and says so in the
log, so a misconfigured booth still sells.
"""

from __future__ import annotations

import logging
import threading

import pygame
import pygame.camera
from PIL import Image

from kiosk.camera import ID_PHOTO_SIZE, CameraError, SyntheticCamera

log = logging.getLogger(__name__)


def crop_to_id_photo(image: Image.Image) -> Image.Image:
    width, height = image.size
    target = ID_PHOTO_SIZE[0] / ID_PHOTO_SIZE[1]
    if width / height > target:
        new_width = round(height * target)
        left = (width - new_width) // 2
        box = (left, 0, left + new_width, height)
    else:
        new_height = round(width / target)
        top = (height - new_height) // 2
        box = (0, top, width, top + new_height)
    return image.crop(box).resize(ID_PHOTO_SIZE, Image.Resampling.LANCZOS)


class PygameWebcam:
    def __init__(self, device: str | None = None, size: tuple[int, int] = (1280, 720)):
        pygame.camera.init()
        devices = pygame.camera.list_cameras()
        if not devices:
            raise CameraError("no webcam found by pygame.camera")
        name = device or devices[0]
        if name not in devices:
            raise CameraError(f"webcam {name!r} not found; found: {', '.join(map(str, devices))}")
        self._camera = pygame.camera.Camera(name, size)
        self._camera.start()
        self._lock = threading.Lock()

    def capture(self) -> Image.Image:
        with self._lock:
            surface = self._camera.get_image()
        raw = pygame.image.tobytes(surface, "RGB")
        return crop_to_id_photo(Image.frombytes("RGB", surface.get_size(), raw))


def open_camera(kind: str, device: str | None):  # type: ignore[no-untyped-def]
    """The configured camera; synthetic portraits when no webcam is asked for or found."""
    if kind == "webcam":
        try:
            return PygameWebcam(device)
        except (CameraError, pygame.error, SystemError) as exc:
            log.warning("webcam unavailable (%s): using synthetic portraits", exc)
    return SyntheticCamera()
