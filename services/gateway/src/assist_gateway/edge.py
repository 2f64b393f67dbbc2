"""Where a request comes from: the client's address through trusted proxies, and the origin of a page's socket.

Both are decided here once, for the HTTP API, the pages and the relay's WebSockets alike.

The client address feeds the login and session-code throttles, the consent receipt, the audit trail and the
traces. A forwarding header is a claim anyone can make, so it counts only when the connection comes from a proxy we
were told to trust (TRUSTED_PROXIES): then the client is the right-most hop of X-Forwarded-For that is not itself a
trusted proxy (everything left of it was written by the client and proves nothing). uvicorn's own proxy handling
is off (src/assist/cli.py): it trusts 127.0.0.1 by default, which let any local caller pick its address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_networks(text: str) -> list[Network]:
    """`10.0.0.0/8, 127.0.0.1, ::1` as networks (a bare address is a network of one); ValueError names a bad one."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or CIDR range") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, trusted: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, x_forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: `peer` itself unless `peer` is a trusted proxy; then the right-most hop of
    X-Forwarded-For (every header line, in order) that is not a trusted proxy. A hop that is no IP address ends
    the walk: the last proxy we trust is the best we know then."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for line in x_forwarded_for for hop in line.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        if _address(hop) is None:
            return client
        client = hop
        if not _trusted(hop, trusted):
            return client
    return client  # every hop a trusted proxy: the left-most is the closest thing to a client


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name]


class TrustedProxyMiddleware:
    """ASGI, outermost: sets the scope's `client` (and, behind a trusted proxy, its `scheme` from X-Forwarded-Proto)
    once, so everything after it (throttles, receipts, audit, traces, Secure cookies) sees the same client."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer, port = scope["client"]
            if _trusted(peer, self.trusted):
                scope = dict(scope)
                scope["client"] = (forwarded_client(peer, _header_values(scope, b"x-forwarded-for"), self.trusted),
                                   port)
                proto = [v.split(",")[-1].strip().lower() for v in _header_values(scope, b"x-forwarded-proto")]
                if proto and proto[-1] in ("http", "https"):
                    secure = proto[-1] == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = proto[-1]
        await self.app(scope, receive, send)


def client_address(connection: HTTPConnection) -> str:
    """The client's address of a request or WebSocket, as TrustedProxyMiddleware decided it."""
    return connection.client.host if connection.client else UNKNOWN


# --- the origin of a page that opens a socket with the staff cookie ------------------------------------------------

def parse_origins(text: str) -> list[str]:
    """`https://assist.example.com, https://other.example` as lower-case `scheme://host[:port]`, without a slash."""
    origins = []
    for item in (part.strip().rstrip("/").lower() for part in text.split(",")):
        if not item:
            continue
        if not item.startswith(("http://", "https://")) or "/" in item.split("://", 1)[1]:
            raise ValueError(f"PUBLIC_ORIGINS: {item!r} is not an origin like https://assist.example.com")
        origins.append(item)
    return origins


def own_origin(connection: HTTPConnection) -> str | None:
    """The origin a page of this gateway has, as the request names it: its scheme and Host."""
    host = connection.headers.get("host")
    if not host:
        return None
    secure = connection.url.scheme in ("https", "wss")
    return f"{'https' if secure else 'http'}://{host.lower()}"


def origin_allowed(connection: HTTPConnection, public_origins: Sequence[str]) -> bool:
    """A browser names the page that opened a socket in Origin; only the gateway's own pages may use its cookie.
    Without an Origin (no browser sends a cookie without one) the answer is no."""
    origin = connection.headers.get("origin", "").strip().rstrip("/").lower()
    if not origin or origin == "null":
        return False
    return origin == own_origin(connection) or origin in public_origins
