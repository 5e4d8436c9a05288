"""How cabine's HTTP services (registry, collector, support desk) are served: uvicorn's httptools
protocol with a deadline for request headers and Nagle's algorithm off.

Header deadline: uvicorn times out a kept-alive connection that sends nothing after a response,
but not a new connection that never sends its request, nor one that sends its headers a byte at
a time: fifty such half-open connections held a service's sockets for as long as the clients
liked. Here every request must have its headers complete within ``header_timeout`` seconds of
the connection's start (or of its first byte, for the next request on a kept-alive connection);
otherwise the connection gets 408 and is closed. The body's own deadline is
``ephoto.httpguard.BodyLimit``'s.

No delay: with ``--workers N`` uvicorn binds the listening socket itself, leaving its ``proto``
at 0; accepted connections inherit it, and asyncio sets ``TCP_NODELAY`` only on sockets that say
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

HEADER_TIMEOUT_SECONDS = 10.0

_TIMEOUT_BODY = b"request headers did not arrive in time"
_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's line and headers."""

    header_timeout: float = HEADER_TIMEOUT_SECONDS

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TIMEOUT_ANSWER)
        self.transport.close()


class NoDelayHttpToolsProtocol(GuardedHttpToolsProtocol):
    """The guarded protocol; every TCP connection gets ``TCP_NODELAY`` first."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
