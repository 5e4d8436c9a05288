"""How the registry is served: see :mod:`ephoto.serving` (shared with the collector)."""

from ephoto.serving import PROTOCOL as PROTOCOL
from ephoto.serving import NoDelayHttpToolsProtocol as NoDelayHttpToolsProtocol
from ephoto.serving import set_nodelay as set_nodelay
