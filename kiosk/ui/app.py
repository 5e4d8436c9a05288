"""The touchscreen application: one pygame window, the sale machine, and the event loop.

The sale's work is the sale flow's (``kiosk.flow``): camera, card terminal, ledger writes,
sheet rendering and printing run on the app's worker threads and come back through the flow,
which turns them into machine events on this thread each frame (a result for a screen the
customer has left is dropped). The operator menu's work comes back as posted ``WORK_DONE``
events. The loop never waits on I/O. Any exception goes to the failsafe screen, which leads
back to attract. Mouse and touch (FINGERDOWN/UP) both press buttons; a touch's
synthetic mouse events are ignored so nothing is pressed twice.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from kiosk.booth import Booth
from kiosk.flow import PreviewSizes, SaleFlow
from kiosk.sale import SaleMachine, SaleSession, State, transitions_from

log = logging.getLogger(__name__)

DESIGN_SIZE = (1920, 1080)
PORTRAIT_DESIGN_SIZE = (1080, 1920)
MIN_TEXT_PX = 18
"""No text on any screen is drawn smaller than this, whatever the window's size: a layout
that cannot hold its texts at this size has them cut, which the layout tests refuse."""
AHEAD_BUDGET = 0.005
"""Seconds of a frame after which no more work is done ahead for the next screens."""


def use_dummy_video() -> None:
    """Run without a screen (CI, scripted sessions): SDL's dummy video driver, no audio."""
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

from kiosk.ui.widgets import Button, TextKit  # noqa: E402

WORK_DONE = pygame.event.custom_type()


@dataclass(frozen=True)
class StateChange:
    index: int
    state: State
    at: float  # monotonic seconds


class KioskApp:
    def __init__(
        self,
        booth: Booth,
        *,
        size: tuple[int, int] = DESIGN_SIZE,
        fullscreen: bool = False,
        fps: int = 30,
        screenshots: Path | None = None,
        recover_on_start: bool = True,
    ):
        self.booth = booth
        self.monotonic = booth.monotonic
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if fullscreen else 0
        self.window = pygame.display.set_mode(size, flags)
        pygame.display.set_caption("cabine")
        self.size = self.window.get_size()
        # A screen taller than wide gets the portrait layouts (1080 x 1920 design units),
        # any other the landscape ones (1920 x 1080), scaled to fit and centred.
        self.portrait = self.size[1] > self.size[0]
        self.design = PORTRAIT_DESIGN_SIZE if self.portrait else DESIGN_SIZE
        self.scale = min(self.size[0] / self.design[0], self.size[1] / self.design[1])
        # A small landscape screen (1024 x 600: 0.53) gets layouts with fewer, larger texts.
        self.compact = not self.portrait and self.scale < 0.75
        self.offset = (
            (self.size[0] - self.design[0] * self.scale) / 2,
            (self.size[1] - self.design[1] * self.scale) / 2,
        )
        self.min_button_px = round(booth.settings.min_button_mm / 25.4 * booth.settings.dpi)
        self.fps = fps
        self.kit = TextKit(min_px=MIN_TEXT_PX)
        self.frame_clock = pygame.time.Clock()
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-work")
        self.machine: SaleMachine = booth.machine()
        # The flow's hook runs first, so a screen entering a state sees that state's work begun.
        self.flow = SaleFlow(
            booth,
            self.machine,
            self.executor,
            previews=PreviewSizes(
                photo=(self.s(500), self.s(640)) if self.portrait else (self.s(620), self.s(800)),
                sheet=(self.s(700), self.s(760)),
                live=(self.s(700), self.s(900)) if self.portrait else (self.s(600), self.s(772)),
            ),
            on_error=self.fail,
        )
        self.flow.on_change(self._flow_changed)
        self.machine.on_enter(self._entered)
        self._surfaces: dict[int, tuple[Image.Image, pygame.Surface]] = {}
        self._canvases: dict[str, pygame.Surface] = {}
        self._ahead: Iterator[None] | None = None
        self.pressed: Button | None = None
        self.corner_since: float | None = None
        self.running = True
        self.changes: list[StateChange] = []
        self.errors: list[str] = []
        self.screenshots = screenshots
        self._shot_pending: str | None = None
        self._shots = 0
        self.saved_screenshots: list[Path] = []
        # (state, wall ms, this thread's CPU ms) per frame while record_frames is on
        self.frame_ms: list[tuple[State, float, float]] = []
        self.record_frames = False
        self._warmed = False
        from kiosk.ui.screens import SCREENS

        self.screens = {state: make(self) for state, make in SCREENS.items()}
        self.current = self.screens[self.machine.state]
        self._note_change(self.machine.state)
        self._safely(self.current.enter)
        self._ahead = self._prepare_ahead(self.machine.state)
        if recover_on_start:
            self.flow.start()

    # -- geometry -----------------------------------------------------------------------------
    def s(self, value: float) -> int:
        return round(value * self.scale)

    def rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        return pygame.Rect(
            round(self.offset[0] + x * self.scale),
            round(self.offset[1] + y * self.scale),
            round(w * self.scale),
            round(h * self.scale),
        )

    def button_rect(self, x: float, y: float, w: float, h: float) -> pygame.Rect:
        """A design rectangle scaled to the window, never smaller than the minimum touch size."""
        r = self.rect(x, y, w, h)
        grown = r.inflate(
            max(0, self.min_button_px - r.width), max(0, self.min_button_px - r.height)
        )
        return grown.clamp(self.window.get_rect())

    def operator_corner(self) -> pygame.Rect:
        side = max(self.min_button_px * 2, self.s(160))
        return pygame.Rect(self.size[0] - side, 0, side, side)

    # -- sale machine -------------------------------------------------------------------------
    @property
    def session(self) -> SaleSession:
        return self.machine.session

    @property
    def state(self) -> State:
        return self.machine.state

    def fire(self, event: str) -> State:
        return self.machine.fire(event)

    def _entered(self, machine: SaleMachine, source: State, target: State) -> None:
        self.pressed = None
        self.corner_since = None
        if target is State.ATTRACT:
            self._surfaces.clear()
        self.current = self.screens[target]
        self.current.asking = False
        self._note_change(target)
        self.current.enter()
        self._ahead = self._prepare_ahead(target)

    def _note_change(self, state: State) -> None:
        self.changes.append(StateChange(len(self.changes), state, self.monotonic()))
        self._shot_pending = state.value

    def canvas(self, name: str) -> pygame.Surface:
        found = self._canvases.get(name)
        if found is None:
            found = self._canvases[name] = pygame.Surface(self.size).convert()
        return found

    # -- preparing the next screens in idle time ----------------------------------------------
    def _next_screens(self, state: State) -> list[tuple[State, dict[str, Any]]]:
        """The screens a tap can lead to from ``state``, with the choice that leads there."""
        session = self.machine.session
        if state is State.LANGUAGE:
            return [(State.CATEGORY, {"lang": lang}) for lang in (session.lang, "en", "fr")]
        if state is State.CATEGORY:
            return [(State.PRODUCT, {"category": c}) for c in ("ephoto", "identity", "photos")]
        if state is State.PRODUCT:
            products = [p for row in self.screens[State.PRODUCT].products() for p in row]  # type: ignore[attr-defined]
            return [(State.CONFIRM, {"product": p}) for p in products]
        if state is State.CONFIRM:
            return [
                (State.CAPTURE, {}),
                (State.PRODUCT, {"category": "ephoto", "product": None}),
            ]
        targets = dict.fromkeys(row.target for row in transitions_from(state))
        return [(t, {}) for t in targets if t not in (state, State.FAILSAFE)]

    def _prepare_ahead(self, state: State) -> Iterator[None]:
        """Steps that prepare the next screens; one runs in each frame with time to spare, the
        session showing the choice that leads to that screen only while the step runs."""
        yield  # never in the frame that enters the screen
        session = self.machine.session
        for target, choice in self._next_screens(state):
            steps = self.screens[target].prepare()
            while True:
                saved = {name: getattr(session, name) for name in choice}
                try:
                    for name, value in choice.items():
                        setattr(session, name, value)
                    next(steps)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - a screen that cannot be prepared yet
                    log.debug("not preparing %s ahead: %s", target.value, exc)
                    break
                finally:
                    for name, value in saved.items():
                        setattr(session, name, value)
                yield

    def _work_ahead(self, started: float) -> None:
        while self._ahead is not None and time.perf_counter() - started < AHEAD_BUDGET:
            try:
                next(self._ahead)
            except StopIteration:
                self._ahead = None

    def _flow_changed(self, what: str) -> None:
        self.current.refresh()
        self.mark_changed(what)

    def surface_of(self, image: Image.Image) -> pygame.Surface:
        """``image`` as a surface, converted once (screens repaint it every frame)."""
        cached = self._surfaces.get(id(image))
        if cached is None or cached[0] is not image:
            rgb = image.convert("RGB")
            surface = pygame.image.frombytes(rgb.tobytes(), rgb.size, "RGB")
            cached = self._surfaces[id(image)] = (image, surface)
        return cached[1]

    def mark_changed(self, what: str) -> None:
        """The screen's content changed enough to deserve its own screenshot."""
        self._shot_pending = f"{self.state.value}-{what}"

    def fail(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        self.errors.append(text)
        log.error("kiosk error in state %s:\n%s", self.state.value, text)
        try:
            if self.state is State.FAILSAFE:
                self.machine.fire("finish")
            else:
                self.machine.fire("error")
        except Exception as again:  # the failsafe itself broke: start over from attract
            log.error("failsafe could not be entered: %s", again)
            self.machine.state = State.ATTRACT
            self.current = self.screens[State.ATTRACT]
            self._note_change(State.ATTRACT)

    def _safely(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the failsafe screen
            self.fail(exc)

    # -- background work ----------------------------------------------------------------------
    def submit(self, kind: str, fn: Callable[..., Any], *args: Any, bound: bool = True) -> None:
        """Run ``fn`` in a worker; its result comes back as a WORK_DONE event.

        ``bound`` work belongs to the current screen and session: if the booth has moved on
        when it finishes, its result is dropped.
        """
        ticket = (self.state, id(self.session)) if bound else None

        def _done(future: Future[Any]) -> None:
            error = future.exception()
            pygame.event.post(
                pygame.event.Event(
                    WORK_DONE,
                    kind=kind,
                    ticket=ticket,
                    result=None if error else future.result(),
                    error=error,
                )
            )

        self.executor.submit(fn, *args).add_done_callback(_done)

    def _work_done(self, event: pygame.event.Event) -> None:
        if event.ticket is not None and event.ticket != (self.state, id(self.session)):
            log.info("dropping late %s result: the booth has moved on", event.kind)
            return
        self.current.on_work(event.kind, event.result, event.error)

    # -- input --------------------------------------------------------------------------------
    def _finger_pos(self, event: pygame.event.Event) -> tuple[int, int]:
        return (round(event.x * self.size[0]), round(event.y * self.size[1]))

    def hit(self, pos: tuple[int, int]) -> Button | None:
        for button in reversed(self.current.buttons):
            if button.enabled and button.rect.collidepoint(pos):
                return button
        return None

    def pointer_down(self, pos: tuple[int, int]) -> None:
        self.machine.touch()
        if self.state in (State.ATTRACT, State.MAINTENANCE) and self.operator_corner().collidepoint(
            pos
        ):
            self.corner_since = self.monotonic()
            return
        self.pressed = self.hit(pos)
        if self.pressed is None:
            self.current.on_pointer_down(pos)

    def pointer_move(self, pos: tuple[int, int]) -> None:
        if self.pressed is None:
            self.current.on_pointer_move(pos)

    def pointer_up(self, pos: tuple[int, int]) -> None:
        if self.corner_since is not None:  # the operator's corner, let go too early
            self.corner_since = None
            return
        button, self.pressed = self.pressed, None
        if button is not None:
            # Compare by id: the screen may have rebuilt its buttons (a status refresh)
            # between press and release, and the tap must still count.
            same = any(b.id == button.id and b.enabled for b in self.current.buttons)
            if button.rect.collidepoint(pos) and same:
                self.machine.touch()
                self.current.on_button(button.id)
        else:
            self.current.on_pointer_up(pos)

    def handle(self, event: pygame.event.Event) -> None:
        kind = event.type
        if kind == pygame.QUIT:
            self.running = False
        elif kind == WORK_DONE:
            self._work_done(event)
        elif kind == pygame.FINGERDOWN:
            self.pointer_down(self._finger_pos(event))
        elif kind == pygame.FINGERMOTION:
            self.pointer_move(self._finger_pos(event))
        elif kind == pygame.FINGERUP:
            self.pointer_up(self._finger_pos(event))
        elif getattr(event, "touch", False):
            return  # SDL's mouse copy of a touch: already handled as a finger
        elif kind == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self.pointer_down(event.pos)
        elif kind == pygame.MOUSEMOTION and event.buttons[0]:
            self.pointer_move(event.pos)
        elif kind == pygame.MOUSEBUTTONUP and event.button == 1:
            self.pointer_up(event.pos)

    def _still_there(self) -> None:
        """Put up or take down the "still there?" prompt as the sale machine says."""
        asking = self.machine.asks_still_there() and self.flow.progress.busy is None
        if asking != self.current.asking:
            self.current.asking = asking
            self.pressed = None
            self.current.refresh()
            self.mark_changed("still_there" if asking else "resumed")

    def _corner_held(self) -> None:
        if self.corner_since is None:
            return
        if self.monotonic() - self.corner_since >= self.booth.settings.operator_hold_seconds:
            self.corner_since = None
            self.fire("operator_gesture")

    # -- frames -------------------------------------------------------------------------------
    def step(self) -> None:
        """One frame: handle what happened, check timeouts, draw. Never waits on I/O."""
        started = time.perf_counter()
        cpu_started = time.thread_time()
        for event in pygame.event.get():
            self._safely(self.handle, event)
        self._safely(self.flow.tick)
        self._safely(self._still_there)
        self._safely(self._corner_held)
        self._safely(self.current.update)
        self._safely(self.draw)
        pygame.display.flip()
        self._work_ahead(started)
        if self.record_frames:
            self.frame_ms.append(
                (
                    self.state,
                    (time.perf_counter() - started) * 1000,
                    (time.thread_time() - cpu_started) * 1000,
                )
            )
        if not self._warmed:
            # After the first frame: start slow helpers (the sheet renderer's process) now
            # rather than before the attract screen is up.
            self._warmed = True
            self._safely(self.booth.warm_up)
        if self._shot_pending and self.screenshots is not None:
            self.save_screenshot(self._shot_pending)
        self._shot_pending = None

    def draw(self) -> None:
        self.current.draw(self.window)

    def save_screenshot(self, name: str) -> Path:
        """The window as it is now, written to the screenshots folder by a worker (the file
        is there once the app has closed)."""
        assert self.screenshots is not None
        self.screenshots.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        path = self.screenshots / f"{self._shots:03d}-{name}.png"
        self.executor.submit(pygame.image.save, self.window.copy(), str(path))
        self.saved_screenshots.append(path)
        return path

    def run(self) -> None:
        while self.running:
            self.step()
            self.frame_clock.tick(self.fps)
        self.close()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        pygame.display.quit()
