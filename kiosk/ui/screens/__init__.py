"""The touchscreen's screens, one module per group: welcome (attract, language, maintenance),
choosing (category, product, confirm), photo (capture, review, signature), paying (payment,
issuing, printing, done), message (every screen that only informs) and operator.

Screens depend on :class:`kiosk.ui.screens.base.ScreenHost`, the narrow part of the app they
use, never on the app module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from kiosk.sale import State
from kiosk.ui.screens.base import Screen, ScreenHost
from kiosk.ui.screens.choosing import CategoryScreen, ConfirmScreen, ProductScreen
from kiosk.ui.screens.message import MESSAGES, MessageScreen
from kiosk.ui.screens.operator import OperatorPinScreen, OperatorScreen
from kiosk.ui.screens.paying import DoneScreen, IssuingScreen, PaymentScreen, PrintingScreen
from kiosk.ui.screens.photo import CaptureScreen, ReviewScreen, SignatureScreen
from kiosk.ui.screens.welcome import AttractScreen, LanguageScreen, MaintenanceScreen

__all__ = ["SCREENS", "Screen", "ScreenHost"]

SCREENS: dict[State, Callable[[ScreenHost], Screen]] = {
    cls.state: cls
    for cls in (
        AttractScreen,
        LanguageScreen,
        CategoryScreen,
        ProductScreen,
        ConfirmScreen,
        CaptureScreen,
        ReviewScreen,
        SignatureScreen,
        PaymentScreen,
        IssuingScreen,
        PrintingScreen,
        DoneScreen,
        MaintenanceScreen,
        OperatorPinScreen,
        OperatorScreen,
    )
}
SCREENS.update({state: partial(MessageScreen, state=state) for state in MESSAGES})
assert set(SCREENS) == set(State), "every state needs a screen"
