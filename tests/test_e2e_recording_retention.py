"""Recordings are deleted, and only recordings (issue #19): with the whole system (`assist dev`) and relayed sessions
that became active (so billed), a customer's erasure removes the recording's objects from the object store at once
and a short retention lets the sweep remove another's; both are audited (each sweep run too, and the audit chains
stay intact), and each session's billing record and consent receipt are still there, unchanged.
"""

from __future__ import annotations

import httpx
import pytest
from assist_gateway.models import RecordingObject
from assist_platform.audit import AuditEntry
from assist_platform.testing import eventually
from public_api import bearer, login
from recording_flow import PASSWORD, active_session, index_when, until_recording
from recording_writer import objects_in_system, system_database
from sqlmodel import select

pytestmark = pytest.mark.e2e

# About 8.6 s: time enough to erase one first, and every replica looks each second.
SHORT_RETENTION = {"RECORDING_RETENTION_DAYS": "0.0001", "RECORDING_SWEEP_SECONDS": "1"}


async def recorded_and_ended(base: str, client: httpx.AsyncClient):
    """A session relayed, its output recorded, ended by its customer."""
    request, agent, consultant = await active_session(base, "maria")
    await agent.send(b"\x01billed and recorded\r\n")
    await index_when(client, request, lambda body: body["terminal"]["has_output"], what="the output recorded")
    ended = await client.post(f"/api/v1/sessions/{request.session_id}/terminate",
                              headers=bearer(request.customer_token))
    assert ended.status_code == 200
    await agent.close()
    await consultant.close()
    return request


async def kept_records(client: httpx.AsyncClient, request) -> tuple[dict, dict]:
    """The billing record (as the customer's session report: closed, with its amount) and the consent receipt."""
    report = await eventually(lambda: _closed_report(client, request), timeout=20, what="the billing record closed")
    receipt = await client.get(f"/api/v1/sessions/{request.session_id}/consent-receipt",
                               headers=bearer(request.customer_token))
    assert receipt.status_code == 200, receipt.text
    return report, receipt.json()


async def _closed_report(client, request) -> dict | None:
    response = await client.get(f"/api/v1/sessions/{request.session_id}/report", headers=bearer(request.customer_token))
    return response.json() if response.status_code == 200 and response.json()["status"] == "closed" else None


async def object_names(system, session_id: str) -> list[str]:
    database = system_database(system)
    try:
        async with database.session() as db:
            return list((await db.exec(select(RecordingObject.name).where(
                RecordingObject.session_id == session_id))).all())
    finally:
        await database.close()


async def gateway_audit(system) -> list[AuditEntry]:
    database = system_database(system)
    try:
        async with database.session() as db:
            return list((await db.exec(select(AuditEntry).order_by(AuditEntry.id))).all())
    finally:
        await database.close()


async def test_erasure_and_retention_remove_the_objects_and_leave_bills_and_consent_receipts(start_system):
    system = start_system(extra_env=SHORT_RETENTION)
    system.add_user("consultant", "maria", PASSWORD)
    system.add_user("supervisor", "sam", PASSWORD)
    base = system.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        erased = await recorded_and_ended(base, client)
        # The customer erases it, before the short retention can take it.
        names = await object_names(system, erased.session_id)
        assert names and await objects_in_system(system, names) == names
        bill, receipt = await kept_records(client, erased)
        answer = await client.post(f"/api/v1/sessions/{erased.session_id}/recording/erase",
                                     headers=bearer(erased.customer_token))
        assert answer.status_code == 200, answer.text
        assert await objects_in_system(system, names) == []  # gone from JetStream's object store itself
        assert await kept_records(client, erased) == (bill, receipt)  # billing's and consent's: untouched

        expired = await recorded_and_ended(base, client)
        expired_names = await object_names(system, expired.session_id)
        bill, receipt = await kept_records(client, expired)
        # The sweep claims it (unreadable from then on), then deletes its objects and their rows.
        await until_recording(client, expired, "expired")

        async def expired_objects_gone() -> bool:
            return (await objects_in_system(system, expired_names) == []
                    and await object_names(system, expired.session_id) == [])

        await eventually(expired_objects_gone, what="the expired recording's objects deleted")
        assert await kept_records(client, expired) == (bill, receipt)
        gone = await client.get(f"/api/v1/sessions/{expired.session_id}/recording",
                                headers=bearer(expired.customer_token))
        assert (gone.status_code, gone.json()["code"]) == (410, "recording_expired")

        # Audited: the erasure and the expiry in each session's trail, every sweep run in the gateway's chain.
        sam = await login(client, "sam", PASSWORD)
        actions = {}
        for request in (erased, expired):
            trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                      headers=bearer(sam))).json()["entries"]
            actions[request.session_id] = {entry["action"] for entry in trail}
        assert "recording.erased" in actions[erased.session_id]
        assert "recording.expired" in actions[expired.session_id]

    async def runs_that_expired() -> list[AuditEntry]:  # a run is audited once it has deleted what it claimed
        runs = [entry for entry in await gateway_audit(system) if entry.action == "recording.retention_run"]
        return runs if sum(entry.detail["expired"] for entry in runs) >= 1 else []

    runs = await eventually(runs_that_expired, what="a sweep run that expired a recording, audited")
    assert {"expired", "objects_deleted", "bytes_deleted", "objects_left", "replica"} <= set(runs[-1].detail)
    verified = system.assist("audit", "verify")
    assert verified.returncode == 0 and "gateway: intact" in verified.stdout, verified.stdout + verified.stderr
