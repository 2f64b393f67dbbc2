"""`assist-agent --check` as the customer runs it: each failure names its step and what to allow."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


def run_check(gateway: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "assist_agent", "--check", "--gateway", gateway],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    return done.returncode, done.stdout


def failed_steps(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith("FAILED")]


@pytest.fixture
def plain_http_server():
    class NotFound(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_closed_port_fails_the_tcp_step_and_says_which_port_to_allow():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    code, output = run_check(f"http://127.0.0.1:{port}")
    assert code != 0
    assert failed_steps(output)[0] == "tcp"
    assert f"allow outgoing TCP to 127.0.0.1 port {port}" in output


def test_a_server_that_is_not_a_websocket_endpoint_fails_the_websocket_step(plain_http_server):
    code, output = run_check(plain_http_server)
    assert code != 0
    assert failed_steps(output)[0] == "websocket"
    assert "passed   tcp" in output and "HTTP 404" in output and "allow WebSocket upgrades" in output


def test_a_wrong_host_name_fails_the_dns_step():
    code, output = run_check("https://no-such-host.invalid")
    assert code != 0
    assert failed_steps(output)[0] == "dns" and "could not be found" in output
