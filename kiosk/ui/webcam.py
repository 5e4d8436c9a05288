"""A real webcam through pygame's camera module, for booths configured with ``camera = "webcam"``.

Pictures are cropped to the ID-photo proportions (35 x 45) around the centre, like the booth's
framing guide. A webcam that is missing or fails at start puts the booth in maintenance with
the reason (see ``Booth.device_problem``).
"""

from __future__ import annotations

import threading

import pygame
import pygame.camera
from PIL import Image

from kiosk.camera import ID_PHOTO_SIZE, CameraError


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
    """A :class:`kiosk.devices.Camera` on pygame's camera module; opened by :meth:`start`."""

    def __init__(self, device: str | None = None, size: tuple[int, int] = (1280, 720)):
        self.device = device
        self.size = size
        self.name = f"webcam:{device or 'first'}"
        self._camera: pygame.camera.Camera | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        try:
            pygame.camera.init()
            devices = pygame.camera.list_cameras()
            if not devices:
                raise CameraError("no webcam found by pygame.camera")
            name = self.device or devices[0]
            if name not in devices:
                found = ", ".join(map(str, devices))
                raise CameraError(f"webcam {name!r} not found; found: {found}")
            camera = pygame.camera.Camera(name, self.size)
            camera.start()
        except (pygame.error, SystemError, OSError) as exc:
            raise CameraError(f"webcam {self.device or 'first'} could not start: {exc}") from None
        self._camera = camera

    def capture(self) -> Image.Image:
        if self._camera is None:
            raise CameraError("the webcam was not started")
        with self._lock:
            surface = self._camera.get_image()
        raw = pygame.image.tobytes(surface, "RGB")
        return crop_to_id_photo(Image.frombytes("RGB", surface.get_size(), raw))

    def frame(self) -> Image.Image:
        """The current frame, for the live preview."""
        return self.capture()
