"""`--check`: can this computer use the service? Each step passes or fails with a plain reason and what to allow.

The terms of use say the customer's computer must meet technical conditions and that firewalls or antivirus can
block the service; this names the step that fails and the host, port and protocol to allow.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

LATENCY_LIMIT_MS = 300.0
TIMEOUT = 5.0


@dataclass
class Step:
    name: str
    passed: bool
    detail: str
    allow: str = ""
    skipped: bool = False

    @property
    def label(self) -> str:
        return "passed" if self.passed else "skipped" if self.skipped else "FAILED"


@dataclass
class Target:
    host: str
    port: int
    secure: bool
    url: str  # the agent door, ws:// or wss://
    proxy: tuple[str, int] | None  # (host, port) of HTTPS_PROXY when it applies


def target_of(gateway: str) -> Target:
    from .connection import agent_url

    url = agent_url(gateway, code="000000000")
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    proxy = None
    proxy_url = urllib.request.getproxies().get("https" if secure else "http")
    if proxy_url and not urllib.request.proxy_bypass(parts.hostname or ""):
        proxied = urlsplit(proxy_url if "://" in proxy_url else f"http://{proxy_url}")
        proxy = (proxied.hostname or "", proxied.port or 8080)
    return Target(host=parts.hostname or "", port=port, secure=secure, url=url, proxy=proxy)


def _allow(target: Target) -> str:
    proto = "HTTPS/WebSocket (wss)" if target.secure else "HTTP/WebSocket (ws)"
    if target.proxy:
        return f"allow outgoing TCP to the proxy {target.proxy[0]}:{target.proxy[1]}, and through it {target.host}:{target.port} ({proto})"
    return f"allow outgoing TCP to {target.host} port {target.port} ({proto})"


def check_dns(target: Target) -> Step:
    host = target.proxy[0] if target.proxy else target.host
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})
    except socket.gaierror as error:
        return Step("dns", False, f"the name {host} could not be found ({error.strerror}); check the address "
                                  "you typed, or your DNS settings", f"allow DNS lookups (UDP/TCP port 53) for {host}")
    return Step("dns", True, f"{host} is {', '.join(addresses[:3])}")


def _tcp_connect(target: Target) -> tuple[socket.socket, float]:
    host, port = target.proxy or (target.host, target.port)
    started = time.monotonic()
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    return sock, (time.monotonic() - started) * 1000


def check_tcp(target: Target) -> tuple[Step, float | None]:
    host, port = target.proxy or (target.host, target.port)
    try:
        sock, elapsed = _tcp_connect(target)
        sock.close()
    except OSError as error:
        why = "nothing answers there or a firewall refuses it" if isinstance(error, ConnectionRefusedError) \
            else "a firewall, antivirus or the network blocks it, or the server is down"
        return Step("tcp", False, f"could not connect to {host}:{port}: {why} ({error})", _allow(target)), None
    return Step("tcp", True, f"connected to {host}:{port} in {elapsed:.0f} ms"), elapsed


def check_tls(target: Target) -> Step:
    if not target.secure:
        return Step("tls", True, "not used: this gateway address is plain http (test systems only)")
    if target.proxy:
        return Step("tls", True, "checked together with the WebSocket step (through the proxy)")
    try:
        with socket.create_connection((target.host, target.port), timeout=TIMEOUT) as raw:
            with ssl.create_default_context().wrap_socket(raw, server_hostname=target.host) as tls:
                version = tls.version()
    except ssl.SSLCertVerificationError as error:
        return Step("tls", False, f"the server's certificate is not trusted ({error.verify_message}); an antivirus "
                                  "or proxy that inspects HTTPS can cause this", f"exempt {target.host} from HTTPS inspection")
    except (OSError, ssl.SSLError) as error:
        return Step("tls", False, f"the secure (TLS) connection failed: {error}", _allow(target))
    return Step("tls", True, f"secure connection established ({version}), certificate valid")


def check_websocket(target: Target) -> Step:
    import websockets
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    async def upgrade() -> str:
        # The placeholder code is refused after the upgrade (4403): that refusal proves the upgrade worked.
        async with websockets.connect(target.url, open_timeout=TIMEOUT, close_timeout=2) as ws:
            try:
                await asyncio.wait_for(ws.recv(), timeout=TIMEOUT)
            except (ConnectionClosed, asyncio.TimeoutError):
                pass
            return "the WebSocket connection was accepted" + (" (through the proxy)" if target.proxy else "")

    try:
        return Step("websocket", True, asyncio.run(upgrade()))
    except InvalidStatus as error:
        return Step("websocket", False, f"the server answered HTTP {error.response.status_code} instead of "
                                        "accepting a WebSocket: it is not the assistance gateway, or a proxy or "
                                        "firewall strips WebSocket upgrades",
                    f"allow WebSocket upgrades (HTTP Upgrade: websocket) to {target.host}:{target.port}")
    except (InvalidHandshake, OSError, asyncio.TimeoutError, ConnectionClosed) as error:
        return Step("websocket", False, f"the WebSocket connection failed: {error or type(error).__name__}; the "
                                        "server may not be a WebSocket endpoint, or something on the way blocks it",
                    f"allow WebSocket upgrades (HTTP Upgrade: websocket) to {target.host}:{target.port}")


def check_latency(target: Target) -> Step:
    samples = []
    for _ in range(3):
        try:
            sock, elapsed = _tcp_connect(target)
            sock.close()
            samples.append(elapsed)
        except OSError as error:
            return Step("latency", False, f"could not measure: {error}", _allow(target))
    best = min(samples)
    if best > LATENCY_LIMIT_MS:
        return Step("latency", False, f"the network is slow: {best:.0f} ms per round trip (at most "
                                      f"{LATENCY_LIMIT_MS:.0f} ms keeps the screen usable)", "use a faster connection")
    return Step("latency", True, f"{best:.0f} ms per round trip")


def check_screen() -> Step:
    try:
        import mss

        with mss.mss() as sct:
            monitor = sct.monitors[1] if len(sct.monitors) > 1 else sct.monitors[0]
            shot = sct.grab(monitor)
    except Exception as error:
        return Step("screen", False, f"the screen could not be captured ({error}); on Linux a graphical session "
                                     "(X11) is needed, on macOS allow Screen Recording for this terminal",
                    "grant screen capture permission to this program")
    return Step("screen", True, f"captured {shot.width}x{shot.height}")


def run_steps(gateway: str) -> list[Step]:
    """Every step in order; after a network step fails, the later ones are reported as not tried."""
    target = target_of(gateway)
    steps = [check_dns(target)]
    if steps[-1].passed:
        tcp, _ = check_tcp(target)
        steps.append(tcp)
    if steps[-1].passed:
        steps.append(check_tls(target))
    if steps[-1].passed:
        steps.append(check_websocket(target))
    if steps[-1].passed:
        steps.append(check_latency(target))
    for name in ("dns", "tcp", "tls", "websocket", "latency"):
        if name not in {step.name for step in steps}:
            steps.append(Step(name, False, "not tried: an earlier step failed", skipped=True))
    steps.append(check_screen())
    return steps


def run_check(gateway: str, stream=None) -> int:
    stream = stream or sys.stdout
    try:
        steps = run_steps(gateway)
    except ValueError as error:
        print(f"FAILED  address: {error}", file=stream)
        return 1
    for step in steps:
        print(f"{step.label:7}  {step.name:9}  {step.detail}", file=stream)
        if not step.passed and step.allow:
            print(f"{'':7}  {'':9}  what to do: {step.allow}", file=stream)
    failed = [step.name for step in steps if not step.passed and not step.skipped]
    print(f"\n{'All checks passed.' if not failed else 'Failed: ' + ', '.join(failed)}", file=stream)
    return 0 if all(step.passed for step in steps) else 1
