"""The booth's touchscreen (pygame-ce): screens, buttons, the event loop and scripted sessions."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
