"""A real HTTP server on 127.0.0.1 serving registry export files and the ways registries fail."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>The registry is down for maintenance</h1></body></html>\n"
)


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/csv"
    declared_length: int | None = None
    """Content-Length sent; larger than the body makes a truncated response."""
    delay_seconds: float = 0.0
    """Sleep before answering (a slow server)."""
    trickle_seconds: float = 0.0
    """Pause between 1 KiB pieces of the body (a server that never stalls long enough to time out a read)."""
    fail_first: int = 0
    """Answer 503 to the first n requests, then serve normally (a flaky server)."""
    header_trickle_seconds: float = 0.0
    """Pause between header lines, up to :data:`HEADER_LINES` of them (a server that trickles its headers, so
    that no single read waits long enough to time out)."""
    redirect_to: str | None = None
    """Answer 302 with this Location."""


HEADER_LINES = 90
"""Below the 100 header lines clients accept, so only a deadline stops a client from waiting for them all."""


@dataclass
class RegistryServer:
    """Routes by path; ``hits`` counts requests per path. Use as a context manager."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    header_lines_sent: Counter = field(default_factory=Counter)
    released: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def serve_file(self, path: str, file: Path, content_type: str = "text/csv") -> str:
        self.routes[path] = Route(body=file.read_bytes(), content_type=content_type)
        return self.url(path)

    def __enter__(self) -> RegistryServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "no such export")
                    return
                if route.delay_seconds:
                    server.released.wait(route.delay_seconds)
                if server.hits[self.path] <= route.fail_first:
                    self.send_error(503, "try again later")
                    return
                if route.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not route.header_trickle_seconds:
                    self.send_response(route.status)
                elif not self._trickle_headers(route):
                    return
                self.send_header("Content-Type", route.content_type)
                length = route.declared_length if route.declared_length is not None else len(route.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    pieces = [route.body[i : i + 1024] for i in range(0, len(route.body), 1024)]
                    for piece in pieces if route.trickle_seconds else [route.body]:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        if route.trickle_seconds and server.released.wait(route.trickle_seconds):
                            break
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_POST = do_GET  # noqa: N815

            def _trickle_headers(self, route: Route) -> bool:
                """Send the status line, then padding header lines slowly; False when the client hung up or the
                server stops first."""
                try:
                    self.wfile.write(f"HTTP/1.1 {route.status} OK\r\n".encode())
                    for _ in range(HEADER_LINES):
                        self.wfile.write(b"X-Padding: waiting\r\n")
                        self.wfile.flush()
                        server.header_lines_sent[self.path] += 1
                        if server.released.wait(route.header_trickle_seconds):
                            return False
                except (BrokenPipeError, ConnectionResetError):
                    return False
                return True

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        time.sleep(0)  # let released handler threads finish writing
