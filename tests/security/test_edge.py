"""The gateway's edge: a forwarding header from anyone but a trusted proxy changes nothing (throttles, receipt,
audit); a page of another origin cannot use the staff cookie on the consultant socket; the data files are the
owner's only; oversized headers get 431; /metrics and the API's map are not public.

Two systems of their own: one as `assist dev` starts by default (no trusted proxy) with low attempt limits, one
that trusts 127.0.0.1 as its proxy. Whatever should not exhaust the first one's throttles for 127.0.0.1 comes from
another loopback address (127.0.0.2), which a socket can bind on Linux.
"""

from __future__ import annotations

import asyncio
import json
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from browser import chromium, new_page
from identities import PASSWORD, STAFF, module_system
from public_api import bearer, close_code, login, next_control, request_help, ws_url

from assist_agent import framing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ATTEMPTS = 3
BYSTANDER = "127.0.0.2"  # a loopback address of its own: its own throttle buckets, never a trusted proxy
FORGED = "203.0.113.7"


def _system(tmp_path_factory, **env: str):
    """The edge's own system: logins and session codes throttled at a few attempts a minute."""
    return module_system(tmp_path_factory, LOGIN_ATTEMPTS_PER_MINUTE=str(ATTEMPTS),
                         CODE_ATTEMPTS_PER_MINUTE=str(ATTEMPTS), **env)


@pytest.fixture(scope="module")
def edge_system(tmp_path_factory):
    """`assist dev` as it starts by default: no trusted proxy, no API docs, no metrics token."""
    with _system(tmp_path_factory) as system:
        yield system


@pytest.fixture(scope="module")
def proxied_system(tmp_path_factory):
    """A gateway behind a proxy at 127.0.0.1 (TRUSTED_PROXIES)."""
    with _system(tmp_path_factory, TRUSTED_PROXIES="127.0.0.1") as system:
        yield system


def client_from(base_url: str, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    return httpx.AsyncClient(base_url=base_url, timeout=30, transport=transport)


async def receipt_address(client: httpx.AsyncClient, session_id: str, customer_token: str) -> str:
    response = await client.get(f"/api/v1/sessions/{session_id}/consent-receipt", headers=bearer(customer_token))
    assert response.status_code == 200, response.text
    return response.json()["client_address"]


async def audited_addresses(system, session_id: str) -> set[str]:
    async with client_from(system.gateway_url, BYSTANDER) as staff:
        token = await login(staff, STAFF["supervisor"], PASSWORD)
        response = await staff.get("/api/v1/audit", params={"session_id": session_id}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return {entry["client_address"] for entry in response.json()["entries"] if entry["client_address"]}


# --- X-Forwarded-For from a client that is no trusted proxy -----------------------------------------------------

async def test_a_rotating_x_forwarded_for_does_not_escape_the_login_throttle(edge_system):
    async with client_from(edge_system.gateway_url) as attacker:
        answers = []
        for attempt in range(ATTEMPTS + 1):
            response = await attacker.post(
                "/api/v1/auth/token", data={"username": STAFF["admin"], "password": f"guess {attempt}"},
                headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"})
            answers.append(response.status_code)
    assert answers == [401] * ATTEMPTS + [429]


async def test_a_rotating_x_forwarded_for_does_not_escape_the_session_code_throttle(edge_system):
    url = f"{ws_url(edge_system.gateway_url)}/ws/v1/agent?code=000000000"
    codes = []
    for attempt in range(ATTEMPTS + 1):
        async with websockets.connect(url, additional_headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"}) as ws:
            codes.append((await close_code(ws))[0])
    assert codes[-1] == 4429 and 4429 not in codes[:-1], codes


async def test_x_forwarded_for_from_an_untrusted_client_is_not_the_address_in_the_receipt_or_the_audit(edge_system):
    async with client_from(edge_system.gateway_url) as customer:
        customer.headers["X-Forwarded-For"] = FORGED
        request = await request_help(customer)
        assert await receipt_address(customer, request.session_id, request.customer_token) == "127.0.0.1"
    # The agent's door records its address too (relay.connected).
    agent_url = f"{ws_url(edge_system.gateway_url)}/ws/v1/agent?code={request.session_code}"
    async with websockets.connect(agent_url, additional_headers={"X-Forwarded-For": FORGED},
                                  local_addr=(BYSTANDER, 0)) as agent:
        await next_control(agent, "attached")
        addresses = await audited_addresses(edge_system, request.session_id)
    assert FORGED not in addresses
    assert addresses == {"127.0.0.1", BYSTANDER}, addresses


# --- X-Forwarded-For from a trusted proxy ------------------------------------------------------------------------

async def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(proxied_system):
    async with client_from(proxied_system.gateway_url) as proxy:
        # The client wrote the first hop itself; the proxy appended the address it saw.
        proxy.headers["X-Forwarded-For"] = "6.6.6.6, 198.51.100.23"
        request = await request_help(proxy)
        assert await receipt_address(proxy, request.session_id, request.customer_token) == "198.51.100.23"
    assert "198.51.100.23" in await audited_addresses(proxied_system, request.session_id)
    async with client_from(proxied_system.gateway_url, BYSTANDER) as stranger:
        stranger.headers["X-Forwarded-For"] = FORGED
        request = await request_help(stranger)
        assert await receipt_address(stranger, request.session_id, request.customer_token) == BYSTANDER


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_throttle(proxied_system):
    async with client_from(proxied_system.gateway_url) as proxy:
        async def attempt(client_ip: str) -> int:
            response = await proxy.post("/api/v1/auth/token", data={"username": STAFF["admin"], "password": "no"},
                                        headers={"X-Forwarded-For": client_ip})
            return response.status_code

        assert [await attempt("198.51.100.50") for _ in range(ATTEMPTS + 1)] == [401] * ATTEMPTS + [429]
        assert await attempt("198.51.100.51") == 401  # another client behind the same proxy is not locked out


# --- the consultant socket and the origin of the page that opens it --------------------------------------------

class _OtherOrigin:
    """A page on another port of 127.0.0.1: another origin, the same site, so the SameSite=Strict cookie goes."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _OtherOrigin:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# Opens the socket, types into the customer's shell as soon as it opens, and reports how it closed and what it
# heard (with `keepOpen`, as soon as it hears anything).
SOCKET_SCRIPT = """
([url, typing, keepOpen]) => new Promise((resolve) => {
  const seen = [];
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () => socket.send(new Uint8Array(typing)));
  socket.addEventListener("message", (event) => {
    seen.push(typeof event.data === "string" ? event.data : "binary");
    if (keepOpen) resolve({code: null, seen});
  });
  socket.addEventListener("close", (event) => resolve({code: event.code, seen}));
})
"""

async def test_a_page_of_another_origin_cannot_open_the_consultant_socket_with_the_staff_cookie(edge_system):
    gateway = edge_system.gateway_url
    async with client_from(gateway, BYSTANDER) as customer:
        request = await request_help(customer)
        token = await login(customer, STAFF["consultant"], PASSWORD)
        claimed = await customer.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    agent_url = f"{ws_url(gateway)}/ws/v1/agent?code={request.session_code}"
    socket_url = f"{ws_url(gateway)}/ws/v1/consultant/{request.session_id}"
    attack = list(framing.encode(framing.TERMINAL, b"echo typed-by-another-origin\r"))
    own = list(framing.encode(framing.TERMINAL, b"echo typed-by-the-console\r"))
    async with websockets.connect(agent_url, local_addr=(BYSTANDER, 0), max_size=None) as agent:
        await next_control(agent, "attached")
        async with chromium() as browser:
            errors: list[str] = []
            page = await new_page(browser, errors=errors)
            # The cookie the console's login sets (web/security.py): HttpOnly, SameSite=Strict, for the host.
            await page.context.add_cookies([{
                "name": "assist_token", "value": token, "url": gateway, "httpOnly": True, "sameSite": "Strict"}])
            with _OtherOrigin("<!doctype html><title>a page of another origin</title>") as other:
                await page.goto(other.url)
                refused = await page.evaluate(SOCKET_SCRIPT, [socket_url, attack, False])
            assert refused == {"code": 4403, "seen": []}, refused

            # The same browser, cookie and session from the gateway's own page: admitted, so the cookie did go.
            await page.goto(f"{gateway}/console/login")
            admitted = await page.evaluate(SOCKET_SCRIPT, [socket_url, own, True])
            assert admitted["code"] is None and json.loads(admitted["seen"][0])["type"] == "attached", admitted
            await next_control(agent, "peer_joined")
            first_typed = await asyncio.wait_for(_next_binary(agent), 10)
            assert first_typed == bytes(own)  # nothing the other origin typed came before it


async def _next_binary(ws) -> bytes:
    while True:
        message = await ws.recv()
        if isinstance(message, bytes):
            return message


async def test_a_cookie_socket_without_origin_is_refused_and_a_bearer_socket_needs_none(edge_system):
    async with client_from(edge_system.gateway_url, BYSTANDER) as staff:
        request = await request_help(staff)
        token = await login(staff, STAFF["consultant"], PASSWORD)
        assert (await staff.post(f"/api/v1/sessions/{request.session_id}/claim",
                                 headers=bearer(token))).status_code == 200
    url = f"{ws_url(edge_system.gateway_url)}/ws/v1/consultant/{request.session_id}"
    async with websockets.connect(url, additional_headers={"Cookie": f"assist_token={token}"},
                                  local_addr=(BYSTANDER, 0)) as ws:
        assert (await close_code(ws))[0] == 4403
    async with websockets.connect(url, additional_headers=bearer(token), local_addr=(BYSTANDER, 0)) as ws:
        assert (await next_control(ws, "attached"))["session_id"] == request.session_id


# --- files, headers, what is not public -------------------------------------------------------------------------

def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_the_jetstream_store_and_the_sqlite_files_are_the_owners_only(edge_system):
    data_dir = edge_system.data_dir
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "nats") == 0o700
    databases = sorted(data_dir.glob("*.sqlite3*"))
    if "DATABASE_URL" not in edge_system.env or not edge_system.env["DATABASE_URL"]:
        assert any(path.name.endswith(".sqlite3") for path in databases), "no SQLite file in the data dir"
    wrong = {path.name: oct(_mode(path)) for path in databases if _mode(path) != 0o600}
    assert not wrong, wrong


async def test_headers_beyond_the_limit_get_431_problem_json(edge_system):
    async with client_from(edge_system.gateway_url) as client:
        response = await client.get("/api/v1/terms", headers={"X-Padding": "a" * 20000})
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 431
    assert response.headers["x-content-type-options"] == "nosniff"  # a refusal is an answer like any other


def test_the_server_refuses_oversized_headers_before_they_end(edge_system):
    """The bound is the server's: it answers while the headers are still coming, not after 8 MiB of them."""
    address = urlsplit(edge_system.gateway_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(b"GET /api/v1/terms HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 20000)  # no end of headers
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def test_metrics_and_the_api_docs_are_not_public_by_default(edge_system):
    async with client_from(edge_system.gateway_url) as anyone:
        for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
            assert (await anyone.get(path)).status_code == 404, path
