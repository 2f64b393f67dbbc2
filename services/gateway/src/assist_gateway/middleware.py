"""ASGI middleware of the gateway: limits on the request's headers and body, and security headers (plain ASGI:
no WebSocket overhead).
"""

from __future__ import annotations

from assist_platform.problems import Problem, problem_response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class _BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException so FastAPI's body parsing re-raises it as it is (not as a 400).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"A request body may hold at most {limit} bytes.")


def _too_large(limit: int) -> Problem:
    return Problem(413, "Request body too large", f"A request body may hold at most {limit} bytes.")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class HttpMiddleware:
    """Plain ASGI middleware that acts on HTTP requests only (`http`): the relay's sockets and the lifespan pass
    through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class BodyLimitMiddleware(HttpMiddleware):
    """413 problem+json for bodies over `max_body_bytes`: by Content-Length, and by counting a streamed body.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        super().__init__(app)
        self.max_body_bytes = max_body_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await problem_response(_too_large(self.max_body_bytes))(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await problem_response(_too_large(self.max_body_bytes))(scope, receive, send)


def header_bytes(scope: Scope) -> int:
    """About what the request line and headers took on the wire (the separators counted as HTTP/1.1 has them)."""
    line = len(scope.get("method", "GET")) + len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
    return line + 12 + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


class HeaderLimitMiddleware:
    """431 problem+json for a request line and headers over `max_header_bytes`.

    The server bounds what it reads before a request is complete (src/assist/httpserver.py: h11 answers 431 once
    its buffer passes the limit); a request that arrives whole in one read gets there in one piece, and is
    measured here. (The relay's sockets pass RelayDoors before this: for them the server's bound is the limit.)
    """

    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and header_bytes(scope) > self.max_header_bytes:
            problem = Problem(431, "Request header fields too large",
                              f"The request line and headers may hold at most {self.max_header_bytes} bytes.")
            await problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in SECURITY_HEADERS if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
