"""The gateway's routes as its app declares them, each with its full path: for the tests that check every door."""

from __future__ import annotations

from collections.abc import Iterator

from assist_gateway.main import create_app
from starlette.routing import BaseRoute


def gateway_routes() -> list[tuple[str, BaseRoute]]:
    """Every route of the gateway's app with its full path, through the routers it includes."""

    def walk(routes, prefix: str) -> Iterator[tuple[str, BaseRoute]]:
        for route in routes:
            included = getattr(route, "include_context", None)  # newer FastAPI wraps each included router
            if included is not None:
                yield from walk(route.original_router.routes, prefix + included.prefix)
            else:
                yield prefix + route.path, route

    return list(walk(create_app().routes, ""))
