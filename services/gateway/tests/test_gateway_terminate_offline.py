"""The terminate path when messaging is away: 200 after one lease, then delivered exactly once when NATS is
back.
"""

from __future__ import annotations

import asyncio
import time

from assist_gateway.models import PendingRevocation
from assist_platform.envelope import rfc3339
from sqlmodel import select

LEASE = 1.0


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


async def pending_revocations(gateway) -> list[PendingRevocation]:
    async with gateway.runtime.database.session() as db:
        return list((await db.exec(select(PendingRevocation))).all())


def offline_settings(gateway_settings, nats_url: str):
    return gateway_settings.model_copy(
        update={"nats_url": nats_url, "lease_seconds": LEASE, "lease_renew_seconds": 0.2}
    )


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

        own_nats_server.stop()
        await wait_for(lambda: _disconnected(gateway), what="the gateway to notice NATS is gone")

        customer = {"Authorization": f"Bearer {customers_session['customer_token']}"}
        terminate_path = f"/api/v1/sessions/{customers_session['session_id']}/terminate"
        started = time.monotonic()
        response = await gateway.client.post(terminate_path, headers=customer)
        assert (response.status_code, response.json()) == (200, {"status": "ended", "ended_by": "customer"})
        assert time.monotonic() - started >= LEASE * 0.95  # every relay anywhere has lapsed by now

        # The assigned consultant can still end (and cut) a session: the gateway remembers the claim.
        ended = await gateway.client.post(
            f"/api/v1/sessions/{consultants_session['session_id']}/end", headers=carl
        )
        assert (ended.status_code, ended.json()) == (200, {"status": "ended", "ended_by": "consultant"})

        queued = {p.session_id: p for p in await pending_revocations(gateway)}
        assert set(queued) == {customers_session["session_id"], consultants_session["session_id"]}
        requested_at = queued[customers_session["session_id"]].requested_at

        again = time.monotonic()
        repeated = await gateway.client.post(terminate_path, headers=customer)
        assert (repeated.status_code, repeated.json()["ended_by"]) == (200, "customer")
        assert time.monotonic() - again < LEASE  # the lease has already run out since the first request

        own_nats_server.start()
        await wait_for(lambda: _none_pending(gateway), what="the queued revocations to be delivered")

        view = (
            await gateway.client.get(f"/api/v1/sessions/{customers_session['session_id']}", headers=customer)
        ).json()
        assert (view["status"], view["ended_by"], view["end_reason"]) == (
            "ended",
            "customer",
            "customer_terminated",
        )
        assert view["ended_at"] == rfc3339(requested_at)
        other = (
            await gateway.client.get(f"/api/v1/sessions/{consultants_session['session_id']}", headers=carl)
        ).json()
        assert (other["status"], other["ended_by"]) == ("ended", "consultant")


async def test_a_session_end_that_fails_after_the_revoke_still_answers_200_and_is_retried(
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
        assert [p.session_id for p in await pending_revocations(gateway)] == [created["session_id"]]

        revived = session_main.build_runtime(session_runtime.settings)
        await revived.start()
        try:
            await wait_for(lambda: _none_pending(gateway), what="the queued session end to be delivered")
            view = (
                await gateway.client.get(f"/api/v1/sessions/{created['session_id']}", headers=customer)
            ).json()
            assert (view["status"], view["ended_by"]) == ("ended", "customer")
        finally:
            await revived.stop()


async def _disconnected(gateway) -> bool:
    return not gateway.runtime.nc.is_connected


async def _none_pending(gateway) -> bool:
    return not await pending_revocations(gateway)
