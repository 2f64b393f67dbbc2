"""Issue #13: the records say who really ended a session. A supervisor's end was recorded, told to the customer,
billed and audited as the consultant's own: a supervisor could end a session and the consultant would carry it.
On the suite's one system, with the identities of identities.py."""

from __future__ import annotations


import httpx
import pytest
from billing_events import closed_record
from identities import PASSWORD, STAFF
from public_api import bearer, close_code, connect_agent, connect_consultant, login, next_control, request_help, \
    wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_a_supervisors_end_is_recorded_told_billed_and_audited_as_the_supervisors(system):
    gateway = system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        sam = await login(client, STAFF["supervisor"], PASSWORD)
        fiona = await login(client, STAFF["finance"], PASSWORD)
        ada = await login(client, STAFF["admin"], PASSWORD)
        request = await request_help(client)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(maria))
        assert claimed.status_code == 200, claimed.text
        agent = await connect_agent(gateway, request.session_code)
        await next_control(agent, "attached")
        consultant = await connect_consultant(gateway, request.session_id, maria)
        await next_control(consultant, "peer_joined")
        await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")

        ended = await client.post(f"/api/v1/sessions/{request.session_id}/end", headers=bearer(sam))
        assert (ended.status_code, ended.json()) == (200, {"status": "ended", "ended_by": "supervisor"})
        # Both sides of the relay are told who ended it.
        for socket in (consultant, agent):
            assert await close_code(socket) == (4410, "session ended by supervisor")
        view = await wait_for_status(client, request.session_id, bearer(request.customer_token), "ended")
        assert (view["ended_by"], view["end_reason"]) == ("supervisor", "supervisor_ended")
        record = await closed_record(client, bearer(fiona), request.session_id)
        assert record["ended_by"] == "supervisor"
        trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                  headers=bearer(ada))).json()
    ends = [(entry["actor"], entry["detail"].get("ended_by")) for entry in trail["entries"]
            if entry["service"] == "session" and entry["action"] == "session.ended"]
    assert ends == [(STAFF["supervisor"], "supervisor")], trail["entries"]
