"""Cameras beyond the drawn portraits: a webcam through OpenCV's ``VideoCapture``, and a file or
folder of pictures for tests and demos.

Both implement :class:`kiosk.devices.Camera`: ``start()`` opens the device and raises
:class:`CameraUnavailable` with a reason an operator can act on (the booth then goes to
maintenance instead of selling without a camera); ``capture()`` returns an RGB picture cropped
around its centre to the ID photo's proportions (35 x 45), at the photo's size.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PIL import Image

from kiosk.camera import ID_PHOTO_SIZE, CameraError, load_photo
from kiosk.devices import CameraUnavailable, import_cv2

PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def crop_to_id_photo(image: Image.Image) -> Image.Image:
    """The largest 35 x 45 box around the centre, scaled to the photo's size."""
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


class OpenCvCamera:
    """A webcam (``/dev/video0`` is device ``0``) or any source ``cv2.VideoCapture`` opens: a
    device path, a video file, a stream URL. Frames are read on demand; a few are dropped
    first so the picture is the current one, not one waiting in the driver's buffer."""

    def __init__(
        self, device: int | str = 0, size: tuple[int, int] = (1280, 720), flush_frames: int = 2
    ):
        self.device = device
        self.size = size
        self.flush_frames = flush_frames
        self.name = f"opencv:{device}"
        self._capture: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        cv2 = import_cv2()

        with self._lock:
            if self._capture is not None:
                return
            capture = cv2.VideoCapture(self.device)
            if not capture.isOpened():
                capture.release()
                raise CameraUnavailable(
                    f"camera {self.device!r} cannot be opened (not plugged in, in use, or no "
                    "permission on the device)"
                )
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
            ok, frame = capture.read()
            if not ok or frame is None:
                capture.release()
                raise CameraUnavailable(f"camera {self.device!r} opened but gives no picture")
            self._capture = capture

    def capture(self) -> Image.Image:
        cv2 = import_cv2()

        self.start()
        with self._lock:
            for _ in range(self.flush_frames):
                self._capture.grab()
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraUnavailable(f"camera {self.device!r} stopped giving pictures")
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return crop_to_id_photo(Image.fromarray(rgb))

    def frame(self) -> Image.Image:
        """The next frame as it comes, for the live preview (no frames dropped first)."""
        cv2 = import_cv2()

        self.start()
        with self._lock:
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraUnavailable(f"camera {self.device!r} stopped giving pictures")
        return crop_to_id_photo(Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))

    def close(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()
                self._capture = None


class PictureCamera:
    """Pictures from a file, or from a folder taken in name order and round again: a demo
    booth shows real faces, a test feeds exactly the pictures it wants."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"pictures:{self.path}"
        self._files: list[Path] = []
        self._next = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.path.is_dir():
            files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES)
            if not files:
                raise CameraUnavailable(
                    f"picture folder {self.path} holds no picture ({', '.join(PICTURE_SUFFIXES)})"
                )
        elif self.path.exists():
            files = [self.path]
        else:
            raise CameraUnavailable(f"picture file or folder {self.path} does not exist")
        try:
            load_photo(files[0])
        except CameraError as exc:
            raise CameraUnavailable(str(exc)) from None
        with self._lock:
            self._files = files

    def capture(self) -> Image.Image:
        if not self._files:
            self.start()
        with self._lock:
            path = self._files[self._next % len(self._files)]
            self._next += 1
        try:
            return crop_to_id_photo(load_photo(path))
        except CameraError as exc:
            raise CameraUnavailable(str(exc)) from None
