"""Cameras: OpenCV's VideoCapture (fed a real video file, as a webcam would be read), a file or
folder of pictures, and a clear reason when the camera is missing or broken at start."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kiosk.camera import ID_PHOTO_SIZE, synthetic_portrait
from kiosk.devices import Camera, CameraUnavailable
from kiosk.devices.camera import OpenCvCamera, PictureCamera, crop_to_id_photo


def write_video(path, frames: list[Image.Image]) -> None:
    import cv2

    width, height = frames[0].size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()


def landscape(seed: int) -> Image.Image:
    """A 16:9 webcam frame with a drawn portrait in its middle."""
    frame = Image.new("RGB", (1280, 720), (220, 224, 230))
    frame.paste(synthetic_portrait(seed).resize((560, 720)), (360, 0))
    return frame


def test_opencv_camera_reads_frames_and_crops_them_to_the_id_photo(tmp_path):
    video = tmp_path / "webcam.avi"
    write_video(video, [landscape(seed) for seed in range(8)])
    camera = OpenCvCamera(str(video), flush_frames=0)
    assert isinstance(camera, Camera)
    camera.start()
    picture = camera.capture()
    assert picture.mode == "RGB" and picture.size == ID_PHOTO_SIZE
    # The portrait's face is in the middle of the crop: its centre column is not background.
    pixels = np.asarray(picture).astype(int)
    assert np.abs(pixels[ID_PHOTO_SIZE[1] // 2, ID_PHOTO_SIZE[0] // 2] - [220, 224, 230]).sum() > 60
    camera.close()


def test_opencv_camera_gives_live_frames_one_after_the_other(tmp_path):
    """A webcam gives the capture screen's live view: each frame the next one, cropped like
    the photo."""
    from kiosk.devices import LiveView

    video = tmp_path / "webcam.avi"
    write_video(video, [landscape(seed) for seed in range(4)])
    camera = OpenCvCamera(str(video), flush_frames=0)
    assert isinstance(camera, LiveView)
    camera.start()
    frames = [np.asarray(camera.frame()).astype(int) for _ in range(3)]
    assert all(frame.shape == (ID_PHOTO_SIZE[1], ID_PHOTO_SIZE[0], 3) for frame in frames)
    assert np.abs(frames[0] - frames[1]).mean() > 1  # the next frame, not the same one again
    camera.close()


def test_a_missing_camera_is_refused_at_start_with_its_name(tmp_path):
    camera = OpenCvCamera(str(tmp_path / "no-such-device"))
    with pytest.raises(CameraUnavailable, match="no-such-device.*cannot be opened"):
        camera.start()


def test_a_camera_that_opens_but_gives_no_picture_is_refused(tmp_path):
    empty = tmp_path / "empty.avi"
    write_video(empty, [landscape(0)])
    empty.write_bytes(empty.read_bytes()[:200])  # a header and no frame
    with pytest.raises(CameraUnavailable, match="empty.avi"):
        OpenCvCamera(str(empty)).start()


def test_picture_folder_gives_its_pictures_in_order_and_round_again(tmp_path):
    for i, seed in enumerate((4, 5)):
        synthetic_portrait(seed).save(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("not a picture")
    camera = PictureCamera(tmp_path)
    camera.start()
    shots = [camera.capture() for _ in range(3)]
    assert shots[0].tobytes() == crop_to_id_photo(synthetic_portrait(4)).tobytes()
    assert shots[1].tobytes() == crop_to_id_photo(synthetic_portrait(5)).tobytes()
    assert shots[2].tobytes() == shots[0].tobytes()


def test_picture_camera_refuses_a_missing_empty_or_broken_source(tmp_path):
    with pytest.raises(CameraUnavailable, match="does not exist"):
        PictureCamera(tmp_path / "nowhere").start()
    with pytest.raises(CameraUnavailable, match="holds no picture"):
        PictureCamera(tmp_path).start()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(CameraUnavailable, match="broken.jpg"):
        PictureCamera(broken).start()


def test_a_wide_picture_is_cropped_around_its_centre():
    wide = Image.new("RGB", (1600, 900), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 400, 900))  # a red band on the left, cropped away
    cropped = crop_to_id_photo(wide)
    assert cropped.size == ID_PHOTO_SIZE
    assert cropped.getpixel((5, 500)) == (0, 0, 255)
