"""`assist dev` as `make run` starts it: every service answers, SIGTERM stops all, a restart continues.

What only reads the system or adds an account of its own runs on the shared system (two replicas, as `make run`
with ASSIST_GATEWAYS=2 starts them); what stops, kills or restarts it starts its own."""

from __future__ import annotations

import os
import signal
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from assist_platform.testing import eventually_sync

pytestmark = pytest.mark.e2e


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but not been reaped; for us it is gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_every_service_answers_healthz_and_readyz(start_system):
    system = start_system(shared=True)
    assert {"consent", "session", "gateway-1"} <= set(system.services)
    with httpx.Client(timeout=5) as client:
        for name, service in system.services.items():
            assert client.get(f"{service['url']}/healthz").status_code == 200, name
            assert client.get(f"{service['url']}/readyz").status_code == 200, name
    # The bundled server on loopback; dev.json's URL carries the operator's credentials (users per service).
    nats = urlsplit(system.nats_url)
    assert (nats.scheme, nats.hostname, nats.username) == ("nats", "127.0.0.1", "operator")


def test_sigterm_stops_every_process_it_started(start_system):
    system = start_system()
    pids = system.pids()
    assert len(pids) == len(system.services) + 1  # the services and the bundled nats-server

    assert system.stop(signal.SIGTERM) == 0

    assert [pid for pid in pids if alive(pid)] == []
    assert not (system.data_dir / "dev.json").exists()


def test_sigint_stops_gateways_before_the_services_behind_them(start_system):
    system = start_system()
    assert system.stop(signal.SIGINT) == 0
    output = system.log_tail("dev", lines=200)
    assert "SIGINT received" in output
    assert "assist dev: stopped" in output


def test_restart_with_the_same_data_dir_continues(start_system):
    system = start_system()
    created = system.add_user_with_cli("consultant", "restart-alice", "a long secret 1")
    assert created.returncode == 0, created.stderr
    old_pids = system.pids()

    system.restart()

    assert not set(old_pids) & set(system.pids())
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{system.gateway_url}/readyz").status_code == 200
        # The account made before the restart still logs in: the database outlived the processes.
        token = client.post(
            f"{system.gateway_url}/api/v1/auth/token",
            data={"username": "restart-alice", "password": "a long secret 1"},
        )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "bearer"


def test_several_gateway_replicas_listen_on_consecutive_ports(start_system):
    system = start_system(gateways=2, shared=True)
    first, second = system.gateway_urls
    assert int(second.rsplit(":", 1)[1]) == int(first.rsplit(":", 1)[1]) + 1
    with httpx.Client(timeout=5) as client:
        assert all(client.get(f"{url}/readyz").status_code == 200 for url in system.gateway_urls)


def test_a_service_that_dies_stops_everything_with_a_failure(start_system):
    system = start_system()
    pids = system.pids()
    os.kill(system.services["session"]["pid"], signal.SIGKILL)

    assert system.process.wait(timeout=45) != 0

    assert "session was killed by signal 9" in system.log_tail("dev", lines=200)
    eventually_sync(lambda: not any(alive(pid) for pid in pids), timeout=20, what="every process to have exited")


def test_user_add_creates_an_account(start_system):
    system = start_system(shared=True)
    username = f"cli-bob-{uuid.uuid4().hex[:8]}"  # the shared system's accounts are every test's
    result = system.add_user_with_cli("supervisor", username, "correct horse battery")
    assert result.returncode == 0, result.stderr
    assert username in result.stdout
    with httpx.Client(timeout=5) as client:
        token = client.post(f"{system.gateway_url}/api/v1/auth/token",
                            data={"username": username, "password": "correct horse battery"})
    assert token.status_code == 200, token.text


def test_user_add_with_an_unknown_role_is_one_readable_line(start_system):
    system = start_system(shared=True)
    result = system.add_user_with_cli("emperor", "carol", "correct horse battery", check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "role" in result.stderr.lower()
