"""The lifecycle every loopback fake shares: a real HTTP server on 127.0.0.1 in a daemon thread.

A fake subclasses `LoopbackServer`, gives its request handler class in `handler()`, and is
used as `with Fake(...) as fake:` (or `start()`/`stop()`). The port is chosen by the kernel.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    thread_name = "fake"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> str:
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
            self._server.daemon_threads = True  # idle keep-alive connections never hold up stop()
            self._server.block_on_close = False
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True)
            self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, f"start() the {self.thread_name} first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
