"""How cabine's HTTP services (registry, collector) are served: uvicorn's httptools protocol
with Nagle's algorithm off.

With ``--workers N`` uvicorn binds the listening socket itself, leaving its ``proto`` at 0;
accepted connections inherit it, and asyncio sets ``TCP_NODELAY`` only on sockets that say
``IPPROTO_TCP`` (uvicorn issue #3149). Every keep-alive response after the first then waited
for the client's delayed ACK: about 40 ms a request, four times the work of a batch of 50.
One worker was not affected (asyncio binds that socket itself).
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "ephoto.serving:NoDelayHttpToolsProtocol"
"""The value for uvicorn's ``http`` option."""


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; every TCP connection gets ``TCP_NODELAY`` first."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
