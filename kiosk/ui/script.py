"""Scripted sessions: run the booth headless and perform taps from a TOML script.

QA and the tests use the same runner. Each ``[[step]]`` has one action:

```toml
[[step]]
tap = "start"              # a button id (see the screenshots or `ids` in the report)
[[step]]
tap_text = "English"       # or the text on a button (case-insensitive, part of it is enough)
[[step]]
wait_for = "review"        # run until the booth reaches this state (timeout = 30 s by default)
timeout = 20
[[step]]
sign = true                # draw a signature with a finger on the pad
[[step]]
hold = "operator"          # press and hold the operator corner (seconds = hold time + 0.3)
[[step]]
pin = "1234"               # type a PIN on the operator pad and confirm
[[step]]
wait = 1.5                 # let the booth run for this many seconds
[[step]]
expect = "done"            # fail unless the booth is in this state now
[[step]]
screenshot = "label"       # save a screenshot now
```

Taps are real events posted at the button's rectangle: FINGERDOWN then FINGERUP (``mouse =
true`` on a step sends mouse button events instead). A screenshot is saved at every state
change when a screenshots folder is given.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygame

from kiosk.booth import Booth
from kiosk.sale import State
from kiosk.ui.app import KioskApp, use_dummy_video
from kiosk.ui.widgets import Button

ACTIONS = ("tap", "tap_text", "wait", "wait_for", "sign", "hold", "pin", "expect", "screenshot")
DEFAULT_TIMEOUT = 30.0


class ScriptError(RuntimeError):
    """A step could not be performed; the message names the step and what was on screen."""


@dataclass
class ScriptReport:
    states: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    steps_done: int = 0
    error: str | None = None
    app_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


# What each key of a step may hold; a step has exactly one action key (ACTIONS) and may add
# the options after it.
_STATES = {state.value for state in State}
_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "tap": ("a button id (text)", lambda v: isinstance(v, str) and v != ""),
    "tap_text": ("a button's text", lambda v: isinstance(v, str) and v != ""),
    "wait": ("a number of seconds", lambda v: _number(v) and v >= 0),
    "wait_for": (f"a state ({', '.join(sorted(_STATES))})", lambda v: v in _STATES),
    "sign": ("true", lambda v: v is True),
    "hold": ('"operator"', lambda v: v == "operator"),
    "pin": ("digits in quotes", lambda v: isinstance(v, str) and v.isdigit()),
    "expect": (f"a state ({', '.join(sorted(_STATES))})", lambda v: v in _STATES),
    "screenshot": ("a label (text)", lambda v: isinstance(v, str) and v != ""),
    "timeout": ("a number of seconds", lambda v: _number(v) and v > 0),
    "seconds": ("a number of seconds", lambda v: _number(v) and v > 0),
    "mouse": ("true or false", lambda v: isinstance(v, bool)),
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_steps(steps: Any, source: str = "script") -> list[dict[str, Any]]:
    """The steps if every one is valid, else :class:`ScriptError` naming the first bad step and
    field in one line. Runs before the first step, so a mistake never leaves half a session."""
    if not isinstance(steps, list):
        raise ScriptError(f"{source}: expected [[step]] tables, got {type(steps).__name__}")
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict):
            raise ScriptError(f"{source}: step {number} is not a table of keys")
        unknown = sorted(set(step) - set(_KINDS))
        if unknown:
            raise ScriptError(
                f"{source}: step {number}: unknown key {unknown[0]!r}; known: {', '.join(_KINDS)}"
            )
        actions = [a for a in ACTIONS if a in step]
        if len(actions) != 1:
            raise ScriptError(
                f"{source}: step {number} must have exactly one of {', '.join(ACTIONS)}; "
                f"it has {', '.join(actions) or 'none'}"
            )
        for key, value in step.items():
            expected, ok = _KINDS[key]
            if not ok(value):
                raise ScriptError(f"{source}: step {number}: {key} = {value!r} is not {expected}")
    return steps


def load_script(path: Path) -> list[dict[str, Any]]:
    """The steps of a TOML script, all checked (:func:`check_steps`) before any runs."""
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ScriptError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScriptError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"step"})
    if unknown:
        raise ScriptError(f"{path}: unknown table {unknown[0]!r}; a script is [[step]] tables")
    return check_steps(data.get("step", []), str(path))


class ScriptRunner:
    def __init__(self, app: KioskApp):
        self.app = app

    def frame(self) -> None:
        self.app.step()
        self.app.frame_clock.tick(self.app.fps)

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.app.running:
            self.frame()

    def wait_for_state(self, state: State, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.app.state is not state:
            if time.monotonic() > end:
                raise ScriptError(
                    f"waited {timeout:.0f} s for state {state.value!r}; "
                    f"the booth is in {self.app.state.value!r}"
                )
            self.frame()

    def find(self, step: dict[str, Any], timeout: float) -> Button:
        end = time.monotonic() + timeout
        while True:
            for button in self.app.current.buttons:
                if not button.enabled:
                    continue
                if "tap" in step and button.id == step["tap"]:
                    return button
                if "tap_text" in step:
                    wanted = str(step["tap_text"]).casefold()
                    if any(wanted in text.casefold() for text in button.texts()):
                        return button
            if time.monotonic() > end:
                shown = ", ".join(
                    f"{b.id} ({b.label!r})" for b in self.app.current.buttons if b.enabled
                )
                asked = step.get("tap", step.get("tap_text"))
                raise ScriptError(
                    f"no button {asked!r} on the {self.app.state.value!r} screen; "
                    f"buttons: {shown or 'none'}"
                )
            self.frame()

    def _post(self, kind: str, pos: tuple[int, int], mouse: bool) -> None:
        w, h = self.app.size
        if mouse:
            event_type = {
                "down": pygame.MOUSEBUTTONDOWN,
                "up": pygame.MOUSEBUTTONUP,
            }.get(kind)
            if event_type is None:
                pygame.event.post(
                    pygame.event.Event(
                        pygame.MOUSEMOTION, pos=pos, rel=(0, 0), buttons=(1, 0, 0), touch=False
                    )
                )
            else:
                pygame.event.post(pygame.event.Event(event_type, pos=pos, button=1, touch=False))
            return
        event_type = {
            "down": pygame.FINGERDOWN,
            "move": pygame.FINGERMOTION,
            "up": pygame.FINGERUP,
        }[kind]
        pygame.event.post(
            pygame.event.Event(
                event_type,
                touch_id=1,
                finger_id=1,
                x=pos[0] / w,
                y=pos[1] / h,
                dx=0.0,
                dy=0.0,
                pressure=1.0,
            )
        )

    def tap_at(self, pos: tuple[int, int], mouse: bool = False) -> None:
        self._post("down", pos, mouse)
        self.frame()
        self._post("up", pos, mouse)
        self.frame()

    def tap(self, step: dict[str, Any]) -> None:
        button = self.find(step, float(step.get("timeout", 10.0)))
        self.tap_at(button.rect.center, bool(step.get("mouse", False)))

    def sign(self) -> None:
        screen = self.app.current
        pad = getattr(screen, "pad_rect", None)
        if pad is None:
            raise ScriptError(f"no signature pad on the {self.app.state.value!r} screen")
        points = [
            (
                round(pad.left + pad.width * (0.15 + 0.7 * i / 40)),
                round(pad.centery + pad.height * 0.2 * math.sin(i / 3)),
            )
            for i in range(41)
        ]
        self._post("down", points[0], False)
        for point in points[1:]:
            self._post("move", point, False)
        self._post("up", points[-1], False)
        self.frame()

    def hold(self, seconds: float) -> None:
        corner = self.app.operator_corner()
        self._post("down", corner.center, False)
        self.run_for(seconds)
        self._post("up", corner.center, False)
        self.frame()

    def pin(self, digits: str) -> None:
        for digit in digits:
            self.tap({"tap": f"pin-{digit}"})
        self.tap({"tap": "pin-ok"})

    def perform(self, step: dict[str, Any]) -> None:
        timeout = float(step.get("timeout", DEFAULT_TIMEOUT))
        if "tap" in step or "tap_text" in step:
            self.tap(step)
        elif "wait" in step:
            self.run_for(float(step["wait"]))
        elif "wait_for" in step:
            self.wait_for_state(State(step["wait_for"]), timeout)
        elif "sign" in step:
            self.sign()
        elif "hold" in step:
            hold = self.app.booth.settings.operator_hold_seconds + 0.3
            self.hold(float(step.get("seconds", hold)))
        elif "pin" in step:
            self.pin(str(step["pin"]))
        elif "expect" in step:
            if self.app.state.value != step["expect"]:
                raise ScriptError(
                    f"expected state {step['expect']!r}, the booth is in {self.app.state.value!r}"
                )
        elif "screenshot" in step:
            if self.app.screenshots is not None:
                self.app.save_screenshot(str(step["screenshot"]))


def run_script(app: KioskApp, steps: list[dict[str, Any]], *, close: bool = True) -> ScriptReport:
    """Perform ``steps`` on ``app``; the report lists the states passed and screenshots taken.

    A failing step stops the script; its reason is in ``report.error``.
    """
    runner = ScriptRunner(app)
    report = ScriptReport()
    try:
        runner.frame()
        for number, step in enumerate(steps, start=1):
            try:
                runner.perform(step)
            except ScriptError as exc:
                report.error = f"step {number}: {exc}"
                break
            report.steps_done = number
        runner.frame()
    finally:
        report.states = [change.state.value for change in app.changes]
        report.screenshots = list(app.saved_screenshots)
        report.app_errors = list(app.errors)
        if close:
            app.close()
    return report


def run_headless(
    booth: Booth,
    script: Path | list[dict[str, Any]],
    screenshots: Path | None = None,
    size: tuple[int, int] = (1920, 1080),
    fps: int = 60,
) -> ScriptReport:
    """The booth under SDL's dummy driver, driven by ``script`` (a TOML file or its steps),
    every step checked before the first runs."""
    steps = load_script(script) if isinstance(script, Path) else check_steps(script)
    use_dummy_video()
    app = KioskApp(booth, size=size, screenshots=screenshots, fps=fps)
    return run_script(app, steps)
