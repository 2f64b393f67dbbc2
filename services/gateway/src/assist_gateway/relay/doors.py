"""The relay's sockets go straight to their handlers, past the HTTP layers of the app."""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket


class RelayDoors:
    """ASGI middleware, outermost: a WebSocket that matches one of `routes` is handed to that route's endpoint.

    Between the server and a route sit the middleware and routing layers of the app (error handling, CSRF, body
    limit, security headers, tracing, the router's exit stacks). Each keeps a coroutine frame, and some their own
    state, for as long as a call lasts, and a relay socket lasts the whole session: measured with 1,000 idle relays,
    those layers were about a fifth of a relay's memory. None of them has anything to do for a relay socket (no
    body, no response headers, no span wanted). The routes stay registered on the app, so they are still listed
    with the others (the security suite's authorization matrix reads them there).
    """

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await route.endpoint(WebSocket(scope, receive, send), **child_scope.get("path_params", {}))
                    return
        await self.app(scope, receive, send)
