"""A local HTTP archive on the loopback interface for the fetch tests (nothing leaves the machine).

:class:`ArchiveServer` serves ``files`` (``{"/CODE/2019/CODG1150.19I.Z": bytes}``) with HTTP
``Range`` support and records every request (host, path, Range and Authorization headers).
Faults are switched on per path:

- ``drop_once``: the first GET of the path announces the full Content-Length, sends half the
  bytes and closes the connection (a dropped download);
- ``protected``: paths below these prefixes need a login, Earthdata style: the data host
  (``127.0.0.1``) redirects to ``/login`` on the *other* host name (``localhost``), which checks
  basic auth and redirects back with a token, so a test can see which host got the password.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

__all__ = ["ArchiveServer", "Request"]


@dataclass
class Request:
    host: str
    path: str
    range: str | None
    authorization: str | None


@dataclass
class ArchiveServer:
    files: dict[str, bytes]
    drop_once: set[str] = field(default_factory=set)
    protected: tuple[str, ...] = ()
    credentials: tuple[str, str] = ("user", "secret")
    log: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._handle(self)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        self._dropped: set[str] = set()
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The data host's base URL (``http://127.0.0.1:PORT/``)."""
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path.split("?")[0] == path]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        host = (h.headers.get("Host") or "").split(":")[0]
        auth = h.headers.get("Authorization")
        self.log.append(Request(host, h.path, h.headers.get("Range"), auth))
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/login":
            self._login(h, query)
            return
        if any(path.startswith(p) for p in self.protected) and query.get("token") != ["ok"]:
            target = f"http://localhost:{self.port}/login?next={quote(h.path)}"
            self._reply(h, 302, b"", {"Location": target})
            return
        key = path if path in self.files else h.path
        if key not in self.files:
            self._reply(h, 404, b"not found")
            return
        data = self.files[key]
        if key in self.drop_once and key not in self._dropped:
            self._dropped.add(key)
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[len("bytes=") :].split("-")[0])
            if start >= len(data):
                self._reply(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            body = data[start:]
            headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            self._reply(h, 206, body, headers)
            return
        self._reply(h, 200, data)

    def _login(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        user, password = self.credentials
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if h.headers.get("Authorization") != expected:
            self._reply(h, 401, b"login required", {"WWW-Authenticate": 'Basic realm="test"'})
            return
        nxt = query.get("next", ["/"])[0]
        sep = "&" if "?" in nxt else "?"
        self._reply(h, 302, b"", {"Location": f"http://127.0.0.1:{self.port}{nxt}{sep}token=ok"})

    @staticmethod
    def _reply(
        h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
