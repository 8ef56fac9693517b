"""Security headers for the answers Flask never sees: Engine.IO's long-polling responses.

Flask-SocketIO's middleware hands /socket.io/ requests to Engine.IO before Flask runs, so the app's
after_request hook (create_app's security_headers) never adds its headers there, yet a polling answer
carries the same patient data as the page (a `notify` with the text's snippet). This middleware adds
them to every answer under the Socket.IO path that lacks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

HSTS = "max-age=31536000"


class SocketIOHeaders:
    """WSGI middleware: the strict headers on Engine.IO's answers (never overriding one it set)."""

    def __init__(self, wsgi_app: Callable, *, path: str = "/socket.io", hsts: bool = False) -> None:
        """Wrap `wsgi_app`; `hsts` when the deployment is HTTPS-only (production)."""
        self.wsgi_app = wsgi_app
        self.path = "/" + path.strip("/")
        self.headers = [
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        ]
        if hsts:
            self.headers.append(("Strict-Transport-Security", HSTS))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        """Pass the request on; add the missing headers when it is a Socket.IO one."""
        path = environ.get("PATH_INFO", "")
        if path != self.path and not path.startswith(self.path + "/"):
            return self.wsgi_app(environ, start_response)

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            present = {name.lower() for name, _value in headers}
            missing = [(name, value) for name, value in self.headers if name.lower() not in present]
            return start_response(status, [*headers, *missing], exc_info)

        return self.wsgi_app(environ, start)
