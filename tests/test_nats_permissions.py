"""Each service's NATS user may publish only its own events and the subjects it needs; the matrix is one.

A real nats-server runs with the generated authorization block (what `assist dev` does), and the checked-in copy
that compose and Kubernetes include is kept equal to it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from assist_contract import natsauth
from assist_platform.natsserver import NatsServerProcess

from assist.devnats import BundledNatsAuth

ROOT = Path(__file__).resolve().parents[1]
CHECKED_IN = ROOT / "deploy" / "k8s" / "base" / "nats" / "auth.conf"


@pytest.fixture
def secured_nats(tmp_path):
    auth = BundledNatsAuth.generate(tmp_path)
    server = NatsServerProcess(tmp_path / "js", extra_args=["-c", str(auth.config_file)], env=auth.server_env())
    server.start()
    yield server, auth
    server.stop()


async def _connect(server, auth, user: str, errors: list[str]):
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(server.url, user=user, password=auth.passwords[user], error_cb=on_error,
                              allow_reconnect=False)


async def _received(sub, timeout: float = 0.5) -> list[bytes]:
    found = []
    try:
        while True:
            found.append((await sub.next_msg(timeout=timeout)).data)
    except nats.errors.TimeoutError:
        return found


def test_the_checked_in_nats_authorization_is_the_generated_one():
    assert CHECKED_IN.read_text() == natsauth.render_authorization(), (
        "regenerate: .venv/bin/python -c 'from assist_contract.natsauth import render_authorization as r; "
        "print(r(), end=\"\")' > deploy/k8s/base/nats/auth.conf"
    )


@pytest.mark.parametrize(("service", "foreign"), [
    ("session", "consent.revoked"), ("billing", "session.ended"), ("consent", "billing.record.closed"),
    ("gateway", "session.ended"), ("gateway", "consent.revoked"),
    # The gateway's one event is its own: consent consumes it, nobody else may write it.
    ("consent", "gateway.terminate_requested"), ("session", "gateway.terminate_requested"),
])
async def test_a_service_user_cannot_publish_another_services_events(secured_nats, service, foreign):
    server, auth = secured_nats
    errors: list[str] = []
    watcher = await _connect(server, auth, natsauth.OPERATOR, errors)
    sub = await watcher.subscribe(">")
    intruder = await _connect(server, auth, service, errors)
    try:
        await intruder.publish(foreign, b"forged")
        await intruder.flush()
        assert await _received(sub) == []
        assert any("permissions violation" in e.lower() and foreign in e for e in errors), errors
    finally:
        await intruder.close()
        await watcher.close()


@pytest.mark.parametrize("service", ["consent", "session", "billing"])
async def test_a_service_user_publishes_its_own_events(secured_nats, service):
    server, auth = secured_nats
    errors: list[str] = []
    watcher = await _connect(server, auth, natsauth.OPERATOR, errors)
    sub = await watcher.subscribe(f"{service}.>")
    owner = await _connect(server, auth, service, errors)
    try:
        await owner.publish(f"{service}.something", b"fact")
        await owner.flush()
        assert await _received(sub) == [b"fact"]
        assert errors == []
    finally:
        await owner.close()
        await watcher.close()


async def test_a_service_cannot_listen_to_another_services_commands(secured_nats):
    server, auth = secured_nats
    errors: list[str] = []
    snoop = await _connect(server, auth, "session", errors)
    try:
        await snoop.subscribe("cmd.billing.>")
        await snoop.flush()
        await asyncio.sleep(0.2)  # the violation comes back asynchronously, after the flush's PONG
        assert any("permissions violation" in e.lower() and "cmd.billing" in e for e in errors), errors
    finally:
        await snoop.close()


async def test_a_wrong_password_is_refused(secured_nats):
    server, _auth = secured_nats
    with pytest.raises((nats.errors.Error, OSError)):
        await nats.connect(server.url, user="billing", password="guessed", allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)


async def test_the_gateway_keeps_recordings_in_its_object_store_and_no_other_service_can(secured_nats):
    # Issue #19: the gateway makes the bucket on first use, writes, reads and deletes objects in it; the other
    # services' users may not write into it.
    from assist_gateway.recording.store import RecordingStore, bucket_for

    server, auth = secured_nats
    errors: list[str] = []
    gateway = await _connect(server, auth, "gateway", errors)
    intruder = await _connect(server, auth, "session", errors)
    try:
        store = RecordingStore(gateway.jetstream, replicas=1)
        bucket, name = bucket_for("standard"), "s1/1764547200123-0a1b2c3d/terminal/000000"
        data = bytes(range(256)) * 1200  # several of the object store's chunks
        await store.put(bucket, name, data)
        assert await store.get(bucket, name) == data
        assert await store.delete(bucket, name) is True
        assert errors == []
        await intruder.publish(f"$O.{bucket}.M.forged", b"{}")
        await intruder.flush()
        await asyncio.sleep(0.2)  # the violation comes back asynchronously, after the flush's PONG
        assert any("permissions violation" in e.lower() and "$o.recordings_standard" in e.lower() for e in errors), \
            errors
    finally:
        await intruder.close()
        await gateway.close()
