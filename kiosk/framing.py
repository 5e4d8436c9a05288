"""The review screen's framing check: is the picture usable as an ID photo?

Checks a few of the photo rules a machine can see without face recognition (service-public):
a plain light background that is not white, the head centred, the top of the head neither cut
off nor too low, the head tall enough. Works on any RGB picture (synthetic or webcam).
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from kiosk.devices import RuleFailure

ANALYSIS_HEIGHT = 240


@dataclass(frozen=True)
class FramingCheck:
    rule: str  # message key suffix: background, centred, head_top, head_size
    ok: bool
    value: float


@dataclass(frozen=True)
class FramingReport:
    checks: tuple[FramingCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed(self) -> tuple[str, ...]:
        return tuple(c.rule for c in self.checks if not c.ok)


def check_framing(image: Image.Image) -> FramingReport:
    import numpy as np  # only when a photo is checked: keeps the booth's start fast

    small = image.convert("RGB")
    scale = ANALYSIS_HEIGHT / small.height
    small = small.resize((max(1, round(small.width * scale)), ANALYSIS_HEIGHT))
    pixels = np.asarray(small, dtype=np.float32)
    h, w, _ = pixels.shape
    patch = max(2, h // 20)
    corners = np.concatenate(
        [pixels[:patch, :patch].reshape(-1, 3), pixels[:patch, -patch:].reshape(-1, 3)]
    )
    background = corners.mean(axis=0)
    brightness = float(background.mean())
    spread = float(corners.std(axis=0).mean())
    plain_light = 150 <= brightness <= 245 and spread < 14
    # The subject: everything clearly different from the background colour.
    distance = np.abs(pixels - background).sum(axis=2)
    subject = distance > 60
    rows = np.flatnonzero(subject.mean(axis=1) > 0.04)
    cols_weight = subject[: int(h * 0.6)].sum(axis=0)
    if rows.size == 0 or cols_weight.sum() == 0:
        return FramingReport(
            (
                FramingCheck("background", plain_light, brightness),
                FramingCheck("centred", False, 1.0),
                FramingCheck("head_top", False, 0.0),
                FramingCheck("head_size", False, 0.0),
            )
        )
    top = rows[0] / h
    centre = float((cols_weight * np.arange(w)).sum() / cols_weight.sum()) / w
    offset = abs(centre - 0.5)
    return FramingReport(
        (
            FramingCheck("background", plain_light, brightness),
            FramingCheck("centred", offset <= 0.08, offset),
            FramingCheck("head_top", 0.02 <= top <= 0.22, top),
            FramingCheck("head_size", top <= 0.22, 1.0 - top),
        )
    )


class FramingPhotoCheck:
    """The default :class:`kiosk.devices.PhotoCheck`: the framing heuristic above, which needs
    no face detector and accepts the drawn portraits."""

    name = "framing"
    rules: tuple[str, ...] = ("background", "centred", "head_top", "head_size")

    def check(self, image: Image.Image) -> list[RuleFailure]:
        return [
            RuleFailure(c.rule, f"review.check_{c.rule}", c.value)
            for c in check_framing(image).checks
            if not c.ok
        ]
