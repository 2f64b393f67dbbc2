"""The terminate path when the consent service cannot be reached: 200 after the rest of the lease consent granted,
kept in the gateway's outbox as `gateway.terminate_requested`, and revoked (then ended) exactly once when NATS is
back.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import nats
from assist_platform.commands import call_command
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.outbox import OutboxEvent, ProcessedEvent
from sqlmodel import select
from assist_platform.testing import stored_messages

LEASE = 1.0
TERMINATE_REQUESTED = "gateway.terminate_requested"


async def wait_for(condition, *, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def ask_for_help(gateway) -> dict:
    version = (await gateway.client.get("/api/v1/terms")).json()["version"]
    body = {
        "customer": {"name": "Ива", "email": "iva@example.com"},
        "service_type": "consultation",
        "description": "x",
        "consent": {"accepted": True, "terms_version": version, "scopes": ["view", "control"]},
    }
    response = await gateway.client.post("/api/v1/help-requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def kept_terminations(gateway) -> dict[str, CloudEvent]:
    """The `gateway.terminate_requested` events in the gateway's outbox, by session."""
    async with gateway.runtime.database.session() as db:
        rows = (await db.exec(select(OutboxEvent).where(OutboxEvent.subject == TERMINATE_REQUESTED))).all()
    events = [CloudEvent.from_bytes(row.payload) for row in rows]
    assert len({event.subject for event in events}) == len(events), "one kept ending per session"
    return {event.subject: event for event in events}


def offline_settings(gateway_settings, nats_url: str):
    return gateway_settings.model_copy(update={"nats_url": nats_url, "lease_renew_seconds": 0.2})


async def lease_known(gateway, seconds: float) -> bool:
    """The gateway has heard from consent how long a lease lasts (it has no setting of its own)."""
    return gateway.app.state.relay_hub.leases.longest_ttl_seconds == seconds


async def session_view(gateway, session_id: str, headers: dict) -> dict:
    return (await gateway.client.get(f"/api/v1/sessions/{session_id}", headers=headers)).json()


async def ended(gateway, session_id: str, headers: dict) -> dict | None:
    view = await session_view(gateway, session_id, headers)
    return view if view.get("status") == "ended" else None


async def test_terminate_without_nats_answers_after_one_lease_and_is_delivered_later(
    own_nats_server, database_location, gateway_settings, gateway_factory, backends_factory
) -> None:
    settings = offline_settings(gateway_settings, own_nats_server.url)
    async with (
        backends_factory(own_nats_server.url, database_location, lease_seconds=LEASE),
        gateway_factory(settings) as gateway,
    ):
        customers_session, consultants_session = await ask_for_help(gateway), await ask_for_help(gateway)
        carl = await gateway.staff_headers("carl", "consultant")
        claimed = await gateway.client.post(
            f"/api/v1/sessions/{consultants_session['session_id']}/claim", headers=carl
        )
        assert claimed.status_code == 200
        await wait_for(lambda: lease_known(gateway, LEASE), what="the gateway to hear the lease's length")

        own_nats_server.stop()
        await wait_for(lambda: _disconnected(gateway), what="the gateway to notice NATS is gone")

        customer = {"Authorization": f"Bearer {customers_session['customer_token']}"}
        terminate_path = f"/api/v1/sessions/{customers_session['session_id']}/terminate"
        started = time.monotonic()
        response = await gateway.client.post(terminate_path, headers=customer)
        assert (response.status_code, response.json()) == (200, {"status": "ended", "ended_by": "customer"})
        assert time.monotonic() - started >= LEASE * 0.95  # every relay anywhere has lapsed by now

        # The assigned consultant can still end (and cut) a session: the gateway remembers the claim.
        ended_by_carl = await gateway.client.post(
            f"/api/v1/sessions/{consultants_session['session_id']}/end", headers=carl
        )
        assert (ended_by_carl.status_code, ended_by_carl.json()) == (200, {"status": "ended", "ended_by": "consultant"})

        kept = await kept_terminations(gateway)
        assert set(kept) == {customers_session["session_id"], consultants_session["session_id"]}
        first = kept[customers_session["session_id"]]
        assert (first.source, first.data["ended_by"], first.data["reason"]) == (
            "assist/gateway", "customer", "customer_terminated")

        again = time.monotonic()
        repeated = await gateway.client.post(terminate_path, headers=customer)
        assert (repeated.status_code, repeated.json()["ended_by"]) == (200, "customer")
        assert time.monotonic() - again < LEASE  # the lease has already run out since the first request
        assert set(await kept_terminations(gateway)) == set(kept)  # the first ending is the one kept

        own_nats_server.start()
        view = await wait_for(lambda: ended(gateway, customers_session["session_id"], customer),
                              what="the kept terminate to end the session")
        assert (view["ended_by"], view["end_reason"]) == ("customer", "customer_terminated")
        assert view["ended_at"] == first.data["requested_at"]
        other = await wait_for(lambda: ended(gateway, consultants_session["session_id"], carl),
                               what="the kept end to end the other session")
        assert other["ended_by"] == "consultant"


async def test_a_terminate_during_an_outage_ends_the_session_once_and_bills_one_record_however_often_delivered(
    own_nats_server, database_location, gateway_settings, gateway_factory, backends_factory
) -> None:
    settings = offline_settings(gateway_settings, own_nats_server.url)
    async with (
        backends_factory(own_nats_server.url, database_location, lease_seconds=LEASE) as (consent, _session, _bill),
        gateway_factory(settings) as gateway,
    ):
        created = await ask_for_help(gateway)
        session_id = created["session_id"]
        customer = {"Authorization": f"Bearer {created['customer_token']}"}
        await gateway.staff_headers("carl", "consultant")
        nc = await nats.connect(own_nats_server.url)
        try:
            # The session becomes active as the relay would make it: claimed, its agent attached, activated.
            for subject, payload in (
                ("cmd.session.claim", {"session_id": session_id, "consultant": "carl"}),
                ("cmd.session.attach_agent", {"session_code": created["session_code"]}),
                ("cmd.session.activate", {"session_id": session_id, "at": rfc3339(datetime.now(UTC))}),
            ):
                await call_command(nc, subject, payload, timeout=10.0)
            await wait_for(lambda: _billing_events(nc, session_id, "billing.record.opened"), what="a record opened")
        finally:
            await nc.drain()
        await wait_for(lambda: lease_known(gateway, LEASE), what="the gateway to hear the lease's length")

        own_nats_server.stop()
        await wait_for(lambda: _disconnected(gateway), what="the gateway to notice NATS is gone")
        response = await gateway.client.post(f"/api/v1/sessions/{session_id}/terminate", headers=customer)
        assert (response.status_code, response.json()) == (200, {"status": "ended", "ended_by": "customer"})
        (kept,) = (await kept_terminations(gateway)).values()

        own_nats_server.start()
        await wait_for(lambda: ended(gateway, session_id, customer), what="the session to end")
        nc = await nats.connect(own_nats_server.url)
        try:
            await wait_for(lambda: _billing_events(nc, session_id, "billing.record.closed"), what="the record closed")
            # The same event delivered twice more (as after a crash past the duplicate window: a new message id).
            js = nc.jetstream()
            for attempt in range(2):
                await js.publish(TERMINATE_REQUESTED, kept.to_bytes(), headers={"Nats-Msg-Id": f"{kept.id}-{attempt}"})
            await wait_for(lambda: _consumer_caught_up(js, "GATEWAY", "consent-gateway"),
                           what="consent to consume the redeliveries")
            async with consent.database.session() as db:
                processed = (await db.exec(select(ProcessedEvent).where(ProcessedEvent.event_id == kept.id))).all()
            assert len(processed) == 1
            assert len(await _stream_events(nc, "CONSENT", session_id, "consent.revoked")) == 1
            assert len(await _stream_events(nc, "SESSION", session_id, "session.ended")) == 1
            assert len(await _billing_events(nc, session_id, "billing.record.closed")) == 1
        finally:
            await nc.drain()


async def test_a_terminate_while_the_session_service_is_away_answers_200_and_the_session_ends_when_it_is_back(
    nats_url, database_location, gateway_settings, gateway_factory, backends_factory
) -> None:
    from assist_session import main as session_main

    async with (
        backends_factory(nats_url, database_location) as (_consent, session_runtime, _billing),
        gateway_factory(gateway_settings) as gateway,
    ):
        created = await ask_for_help(gateway)
        await session_runtime.stop()  # the session service goes away; consent still answers

        customer = {"Authorization": f"Bearer {created['customer_token']}"}
        response = await gateway.client.post(
            f"/api/v1/sessions/{created['session_id']}/terminate", headers=customer
        )
        assert (response.status_code, response.json()) == (200, {"status": "ended", "ended_by": "customer"})
        assert await kept_terminations(gateway) == {}  # consent was reached: nothing to keep

        revived = session_main.build_runtime(session_runtime.settings)
        await revived.start()
        try:
            view = await wait_for(lambda: ended(gateway, created["session_id"], customer),
                                  what="the session to end from consent.revoked")
            assert (view["status"], view["ended_by"]) == ("ended", "customer")
        finally:
            await revived.stop()


async def _disconnected(gateway) -> bool:
    return not gateway.runtime.nc.is_connected


async def _stream_events(nc, stream: str, session_id: str, type: str) -> list[CloudEvent]:
    found = []
    for msg in await stored_messages(nc.jetstream(), stream):
        event = CloudEvent.from_bytes(msg.data)
        if event.subject == session_id and event.type == type:
            found.append(event)
    return found


async def _billing_events(nc, session_id: str, type: str) -> list[CloudEvent]:
    return await _stream_events(nc, "BILLING", session_id, type)


async def _consumer_caught_up(js, stream: str, durable: str) -> bool:
    last_seq = (await js.stream_info(stream)).state.last_seq
    info = await js.consumer_info(stream, durable)
    return info.ack_floor.stream_seq >= last_seq and info.num_ack_pending == 0


def test_the_migration_keeps_revocations_queued_before_it_as_outbox_events(database_location) -> None:
    """Revocations the old retry table still held at upgrade time are not lost: each becomes its event."""
    import sqlalchemy as sa
    from alembic import command
    from assist_gateway.main import migrate
    from assist_gateway.models import TABLES
    from assist_gateway.settings import Settings
    from assist_platform.db import sync_url
    from assist_platform.migrations import alembic_config, service_metadata

    settings = Settings(nats_url="nats://127.0.0.1:1", assist_data_dir=database_location.data_dir,
                        database_url=database_location.database_url,
                        database_schema_prefix=database_location.schema_prefix, environment="test")
    url, schema = settings.database_location("gateway")
    options = {"options": f"-csearch_path={schema}"} if url.startswith("postgresql") else {}
    if url.startswith("postgresql"):
        with sa.create_engine(sync_url(url)).begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    command.upgrade(alembic_config(url=url, schema=schema, package="assist_gateway",
                                   metadata=service_metadata(TABLES)), "0002")
    engine = sa.create_engine(sync_url(url), connect_args=options)
    queued_at = datetime(2026, 11, 28, 21, 0, 0, 123000, tzinfo=UTC)
    pending = sa.table("pending_revocation", sa.column("session_id"), sa.column("reason"), sa.column("ended_by"),
                       sa.column("requested_at", sa.DateTime(timezone=True)), sa.column("attempts"))
    with engine.begin() as connection:
        connection.execute(pending.insert().values(session_id="s-queued", reason="consultant_ended",
                                                   ended_by="consultant", requested_at=queued_at, attempts=3))
    migrate(settings)
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT subject, payload, headers, sent_at FROM outbox_event")).all()
        tables = sa.inspect(connection).get_table_names()
    engine.dispose()
    assert "pending_revocation" not in tables
    ((subject, payload, headers, sent_at),) = rows
    event = CloudEvent.from_bytes(bytes(payload))
    assert (subject, event.type, event.subject, event.source, sent_at) == (
        TERMINATE_REQUESTED, TERMINATE_REQUESTED, "s-queued", "assist/gateway", None)
    assert event.data == {"session_id": "s-queued", "ended_by": "consultant", "reason": "consultant_ended",
                          "requested_at": rfc3339(queued_at)}
    assert event.id in headers
