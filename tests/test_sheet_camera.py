"""Pictures for the sheet: seeded synthetic portraits framed like ID photos, and real files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from kiosk.camera import (
    BACKGROUNDS,
    ID_PHOTO_SIZE,
    SKIN_TONES,
    CameraError,
    FileCamera,
    SyntheticCamera,
    load_photo,
    synthetic_portrait,
    synthetic_portrait_with_geometry,
)


def test_the_same_seed_draws_the_same_person_and_another_seed_someone_else():
    assert synthetic_portrait(5).tobytes() == synthetic_portrait(5).tobytes()
    assert synthetic_portrait(5).tobytes() != synthetic_portrait(6).tobytes()


@pytest.mark.parametrize("seed", range(8))
def test_face_fills_70_to_80_percent_of_the_height_measured_on_the_pixels(seed):
    image, geometry = synthetic_portrait_with_geometry(seed)
    assert image.size == ID_PHOTO_SIZE
    pixels = np.asarray(image).astype(int)
    background = pixels[5, 5]
    column = pixels[:, geometry.centre_x]
    # Crown: the first row where the centre column leaves the background.
    crown = int(np.argmax(np.abs(column - background).sum(axis=1) > 30))
    # Chin: the last row of the face's own skin tone (the neck below is in shadow).
    skin = max(SKIN_TONES, key=lambda tone: (np.abs(pixels - tone).sum(axis=2) <= 3).sum())
    is_skin = np.abs(column - skin).sum(axis=1) <= 6
    chin = int(np.flatnonzero(is_skin)[-1])
    ratio = (chin - crown) / image.height
    assert 0.70 <= ratio <= 0.80, ratio
    assert abs(ratio - geometry.face_ratio) < 0.01


@pytest.mark.parametrize("seed", range(4))
def test_background_is_plain_light_and_not_white(seed):
    pixels = np.asarray(synthetic_portrait(seed)).astype(int)
    corners = [pixels[8, 8], pixels[8, -9], pixels[200, 8], pixels[200, -9]]
    assert all((c == corners[0]).all() for c in corners)
    assert tuple(corners[0]) in BACKGROUNDS
    assert 200 < corners[0].mean() < 250


def test_synthetic_camera_gives_a_new_seeded_picture_each_capture():
    camera = SyntheticCamera(seed=10)
    first, second = camera.capture(), camera.capture()
    assert first.tobytes() == synthetic_portrait(10).tobytes()
    assert second.tobytes() == synthetic_portrait(11).tobytes()


def test_a_real_file_is_loaded_upright_in_rgb(tmp_path):
    path = tmp_path / "me.png"
    Image.new("RGBA", (300, 400), (10, 20, 30, 255)).save(path)
    image = FileCamera(path).capture()
    assert image.mode == "RGB" and image.size == (300, 400)
    # EXIF orientation 6 (rotated 90 degrees) is applied, so a phone picture stands upright.
    rotated = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 300), "white").save(rotated, exif=exif)
    assert load_photo(rotated).size == (300, 400)


def test_missing_or_unreadable_files_are_named_in_the_error(tmp_path):
    with pytest.raises(CameraError, match="nothere.png does not exist"):
        load_photo(tmp_path / "nothere.png")
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(CameraError, match="notes.txt is not a readable image"):
        load_photo(junk)
