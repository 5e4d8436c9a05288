"""The registry's uvicorn protocol turns Nagle's algorithm off on every connection, also on a
listening socket bound the way uvicorn binds it for several workers."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI

from registry.serving import NoDelayHttpToolsProtocol


def test_connections_get_tcp_nodelay_on_a_socket_bound_as_for_several_workers():
    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, bool]:
        return {"ok": True}

    # As uvicorn's Config.bind_socket does for --workers N: proto left at 0.
    listener = socket.socket(family=socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, http=NoDelayHttpToolsProtocol, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with httpx.Client() as client:
            assert client.get(f"http://127.0.0.1:{port}/").json() == {"ok": True}
            [connection] = server.server_state.connections
            accepted = connection.transport.get_extra_info("socket")
            assert accepted.proto == 0  # the case asyncio leaves alone
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
