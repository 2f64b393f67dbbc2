"""Who the client is (X-Forwarded-For through trusted proxies) and whose page may use the staff cookie: pure rules."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from assist_gateway.edge import TrustedProxyMiddleware, forwarded_client, origin_allowed, parse_networks, parse_origins
from assist_gateway.settings import Settings

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(("peer", "header", "client"), [
    ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # not a proxy: its header is a claim, nothing more
    ("127.0.0.1", [], "127.0.0.1"),  # a proxy that says nothing is the client
    ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client's own hops count for nothing
    ("127.0.0.1", ["6.6.6.6, 198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # past every trusted proxy
    ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # header lines read in order
    ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),  # all proxies: the left-most
    ("127.0.0.1", ["198.51.100.1, not-an-address"], "127.0.0.1"),  # garbage from the proxy: the proxy
    ("fd00::1", ["2001:db8::7"], "2001:db8::7"),
])
def test_the_client_is_the_right_most_hop_that_is_no_trusted_proxy(peer, header, client):
    assert forwarded_client(peer, header, PROXIES) == client


def test_nothing_is_trusted_by_default_and_a_bad_range_is_refused_by_name():
    assert Settings().trusted_proxy_networks == []
    assert forwarded_client("127.0.0.1", ["198.51.100.1"], Settings().trusted_proxy_networks) == "127.0.0.1"
    with pytest.raises(ValueError, match="proxy.example"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.example")
    with pytest.raises(ValueError, match="PUBLIC_ORIGINS"):
        Settings(public_origins="https://assist.example.com/console")
    assert parse_origins("https://Assist.example.com/ ,http://127.0.0.1:8000") == [
        "https://assist.example.com", "http://127.0.0.1:8000"]


def _socket(headers: dict[str, str], scheme: str = "ws") -> HTTPConnection:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return HTTPConnection({"type": "websocket", "scheme": scheme, "path": "/ws", "headers": raw,
                           "server": ("127.0.0.1", 8000)})


@pytest.mark.parametrize(("headers", "scheme", "public", "allowed"), [
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}, "ws", [], True),
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:9000"}, "ws", [], False),  # same site, other origin
    ({"host": "assist.example.com", "origin": "https://assist.example.com"}, "wss", [], True),
    ({"host": "assist.example.com", "origin": "http://assist.example.com"}, "wss", [], False),  # other scheme
    ({"host": "gateway:8000", "origin": "https://assist.example.com"}, "ws", ["https://assist.example.com"], True),
    ({"host": "127.0.0.1:8000"}, "ws", [], False),  # no Origin: no page we know
    ({"host": "127.0.0.1:8000", "origin": "null"}, "ws", [], False),
])
def test_only_the_gateways_own_origins_may_use_the_cookie(headers, scheme, public, allowed):
    assert origin_allowed(_socket(headers, scheme), public) is allowed


async def _seen_by_the_app(scope: dict, trusted: str) -> dict:
    seen = {}

    async def app(inner_scope, _receive, _send):
        seen.update(inner_scope)

    await TrustedProxyMiddleware(app, trusted=parse_networks(trusted))(scope, None, None)
    return seen


async def test_behind_a_trusted_proxy_every_layer_sees_the_forwarded_client_and_scheme():
    headers = [(b"x-forwarded-for", b"6.6.6.6, 198.51.100.1"), (b"x-forwarded-proto", b"https")]
    for kind, secure in (("http", "https"), ("websocket", "wss")):
        scope = {"type": kind, "scheme": "http" if kind == "http" else "ws", "client": ("10.1.2.3", 5000),
                 "headers": headers}
        proxied = await _seen_by_the_app(scope, "10.0.0.0/8")
        assert proxied["client"] == ("198.51.100.1", 5000) and proxied["scheme"] == secure
        direct = await _seen_by_the_app(scope, "")
        assert direct["client"] == ("10.1.2.3", 5000) and direct["scheme"] == scope["scheme"]
