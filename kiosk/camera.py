"""Where the booth's pictures come from: seeded synthetic portraits, or a real image file.

The synthetic portrait is a plain drawing of a head and shoulders on a light, plain, non-white
background, framed like an ID photo (35 x 45 mm proportions, chin to crown 70-80 % of the
height, face centred, both eyes open, neutral mouth), so simulations and tests need no external
image. The same seed always gives the same picture.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from kiosk.devices import Camera, CameraUnavailable

__all__ = ["Camera", "CameraError", "FileCamera", "SyntheticCamera"]

ID_PHOTO_SIZE = (827, 1063)
"""35 x 45 mm at 600 dpi: twice the print resolution, so the sheet only ever scales down."""

# Plain light backgrounds of the kind the ID-photo rules accept (light, uniform, never white).
BACKGROUNDS = ((222, 226, 230), (214, 222, 232), (226, 224, 216), (218, 228, 226))
SKIN_TONES = ((246, 214, 186), (233, 190, 153), (205, 150, 110), (160, 108, 72), (110, 72, 48))
HAIR_COLOURS = ((40, 30, 25), (90, 60, 35), (150, 110, 60), (200, 170, 110), (120, 120, 120))
CLOTHES = ((40, 60, 110), (70, 70, 75), (120, 40, 50), (40, 90, 70), (150, 150, 160))
EYE_COLOURS = ((60, 40, 25), (40, 80, 120), (70, 100, 60))

_SUPERSAMPLE = 2


class CameraError(CameraUnavailable, ValueError):
    """A picture could not be taken or read; the message names the file and the reason."""


@dataclass(frozen=True)
class PortraitGeometry:
    """Where the face is in a synthetic portrait, in pixels of the returned image."""

    crown_y: int
    chin_y: int
    centre_x: int
    height: int

    @property
    def face_ratio(self) -> float:
        """Chin-to-crown height over the picture height (the rule asks 70-80 %)."""
        return (self.chin_y - self.crown_y) / self.height


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, round(c * factor))) for c in colour)  # type: ignore[return-value]


def synthetic_portrait_with_geometry(
    seed: int, size: tuple[int, int] = ID_PHOTO_SIZE
) -> tuple[Image.Image, PortraitGeometry]:
    """A seeded ID-style portrait and where its face is."""
    rng = random.Random(seed)
    width, height = size[0] * _SUPERSAMPLE, size[1] * _SUPERSAMPLE
    background = rng.choice(BACKGROUNDS)
    skin = rng.choice(SKIN_TONES)
    hair = rng.choice(HAIR_COLOURS)
    clothes = rng.choice(CLOTHES)
    eyes = rng.choice(EYE_COLOURS)

    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)

    face_ratio = rng.uniform(0.735, 0.775)
    crown = round(height * rng.uniform(0.07, 0.09))
    chin = crown + round(face_ratio * height)
    centre = width // 2 + round(width * rng.uniform(-0.01, 0.01))
    head_height = chin - crown
    head_half_width = round(head_height * rng.uniform(0.34, 0.38))
    hair_line = crown + round(head_height * rng.uniform(0.16, 0.22))

    # Shoulders and neck first, so the head covers their top; the neck is in shadow under the chin.
    shoulder_top = chin + round(height * 0.03)
    draw.ellipse(
        (centre - width * 0.62, shoulder_top, centre + width * 0.62, height + height * 0.5),
        fill=clothes,
    )
    neck_half = round(head_half_width * 0.45)
    draw.rectangle(
        (centre - neck_half, chin - head_height * 0.1, centre + neck_half, shoulder_top + 40),
        fill=_shade(skin, 0.86),
    )
    # Hair behind the head, then the face oval from the hair line to the chin.
    hair_width = head_half_width * rng.uniform(1.08, 1.16)
    draw.rounded_rectangle(
        (centre - hair_width, crown, centre + hair_width, crown + head_height * 0.62),
        radius=round(hair_width * 0.9),
        fill=hair,
    )
    draw.ellipse(
        (centre - head_half_width, hair_line - head_height * 0.12, centre + head_half_width, chin),
        fill=_shade(skin, 0.9),
    )
    # Light falls on the middle of the face; its sides turn away into shade.
    draw.ellipse(
        (
            centre - head_half_width * 0.8,
            hair_line - head_height * 0.08,
            centre + head_half_width * 0.8,
            chin,
        ),
        fill=skin,
    )
    # Ears at eye height.
    eye_y = crown + round(head_height * rng.uniform(0.47, 0.51))
    ear_h = head_height * 0.14
    for side in (-1, 1):
        ear_x = centre + side * head_half_width
        draw.ellipse(
            (
                ear_x - head_half_width * 0.12,
                eye_y - ear_h * 0.4,
                ear_x + head_half_width * 0.12,
                eye_y + ear_h * 0.6,
            ),
            fill=_shade(skin, 0.95),
        )
    # A fringe over the forehead, re-covering the top of the face oval down to the hair line.
    fringe = head_half_width * 0.95
    draw.chord(
        (centre - fringe, crown, centre + fringe, hair_line * 2 - crown), 180, 360, fill=hair
    )
    # Eyes open, looking ahead; eyebrows; a nose shadow; a closed neutral mouth.
    # Pupils 1/3.4 of the head's height apart, as on real adult faces (the face check measures
    # the head by this gap); the draw varies it by a few per cent only.
    eye_gap = head_height * (0.147 + (rng.uniform(0.40, 0.48) - 0.44) * 0.05)
    eye_w, eye_h = head_half_width * 0.26, head_height * 0.045
    # Each eye sits in a shadowed socket under a full brow, with a dark upper lid: the light and
    # dark pattern a face detector looks for (a bright eye on flat skin does not read as an eye).
    # Brows darker than the skin whatever the hair (fair hair with fair brows hides the eyes).
    brow = _shade(hair, 0.45) if sum(hair) < sum(skin) * 0.6 else _shade(skin, 0.42)
    for side in (-1, 1):
        x = centre + side * eye_gap
        draw.ellipse(
            (x - eye_w * 1.45, eye_y - eye_h * 2.6, x + eye_w * 1.45, eye_y + eye_h * 1.9),
            fill=_shade(skin, 0.82),
        )
        draw.ellipse((x - eye_w, eye_y - eye_h, x + eye_w, eye_y + eye_h), fill=(236, 232, 226))
        iris = eye_h * 0.95
        draw.ellipse((x - iris, eye_y - iris, x + iris, eye_y + iris), fill=_shade(eyes, 0.7))
        pupil = iris * 0.5
        draw.ellipse((x - pupil, eye_y - pupil, x + pupil, eye_y + pupil), fill=(10, 10, 10))
        draw.arc(
            (x - eye_w, eye_y - eye_h * 1.05, x + eye_w, eye_y + eye_h * 1.05),
            190,
            350,
            fill=(30, 22, 20),
            width=max(4, round(head_height * 0.009)),
        )
        brow_y = eye_y - head_height * 0.075
        draw.line(
            (x - eye_w * 1.2, brow_y + 4, x + eye_w * 1.2, brow_y - 2),
            fill=brow,
            width=max(6, round(head_height * 0.024)),
        )
    nose_bottom = eye_y + head_height * 0.2
    draw.line(
        (centre, eye_y + head_height * 0.05, centre - head_half_width * 0.06, nose_bottom),
        fill=_shade(skin, 0.8),
        width=max(4, round(head_height * 0.01)),
    )
    draw.line(
        (centre - head_half_width * 0.1, nose_bottom, centre + head_half_width * 0.08, nose_bottom),
        fill=_shade(skin, 0.8),
        width=max(4, round(head_height * 0.01)),
    )
    mouth_y = eye_y + head_height * 0.31
    lip = head_height * 0.018
    draw.ellipse(
        (
            centre - head_half_width * 0.3,
            mouth_y - lip,
            centre + head_half_width * 0.3,
            mouth_y + lip * 1.4,
        ),
        fill=_shade(skin, 0.72),
    )
    draw.line(
        (centre - head_half_width * 0.28, mouth_y, centre + head_half_width * 0.28, mouth_y),
        fill=_shade(skin, 0.5),
        width=max(5, round(head_height * 0.012)),
    )

    image = image.resize(size, Image.Resampling.LANCZOS)
    geometry = PortraitGeometry(
        crown_y=round(crown / _SUPERSAMPLE),
        chin_y=round(chin / _SUPERSAMPLE),
        centre_x=round(centre / _SUPERSAMPLE),
        height=size[1],
    )
    return image, geometry


def synthetic_portrait(seed: int, size: tuple[int, int] = ID_PHOTO_SIZE) -> Image.Image:
    """A seeded ID-style portrait: the same seed always draws the same person."""
    return synthetic_portrait_with_geometry(seed, size)[0]


def synthetic_signature(seed: int, size: tuple[int, int] = (900, 300)) -> Image.Image:
    """A seeded handwritten-looking signature in ink on white, as the signature pad gives it
    (for simulations and tests that sell without a screen)."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, "white")
    points = [
        (round(width * (0.08 + 0.84 * i / 7)), round(height * rng.uniform(0.25, 0.75)))
        for i in range(8)
    ]
    ImageDraw.Draw(image).line(points, fill=(20, 30, 90), width=max(3, height // 33))
    return image


def load_photo(path: str | Path) -> Image.Image:
    """A real picture from a file, upright (EXIF orientation applied), in RGB."""
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except FileNotFoundError:
        raise CameraError(f"photo file {path} does not exist") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CameraError(f"photo file {path} is not a readable image: {exc}") from None
    return image.convert("RGB")


class SyntheticCamera:
    """A camera for simulations: each capture is the next seeded portrait."""

    name = "synthetic"

    def __init__(self, seed: int = 0):
        self._next = seed

    def start(self) -> None:
        return None

    def capture(self) -> Image.Image:
        image = synthetic_portrait(self._next)
        self._next += 1
        return image


class FileCamera:
    """A camera that always returns the same real picture from a file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = f"file:{self.path}"

    def start(self) -> None:
        load_photo(self.path)  # a missing or unreadable file is reported at start

    def capture(self) -> Image.Image:
        return load_photo(self.path)
