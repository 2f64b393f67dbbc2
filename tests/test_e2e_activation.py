"""No byte crosses a relay before the session service has made the session `active`: bytes that crossed are billed.

The gateway asks the session service to activate the session when both sides are there; until that is on record it
holds the frames (and so their senders). Otherwise a session ended while the activation was still on its way (NATS or
the session service away for a moment) would have relayed bytes and never been billed.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from assist_platform.db import connect_args, sync_url
from assist_platform.settings import PlatformSettings
from public_api import bearer, connect_agent, connect_consultant, login, next_control, request_help, wait_for_status
from relay_flow import PASSWORD, next_binary
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e


def _status_on_record(system, session_id: str) -> str:
    """The session's status in the session service's own database, read while the service itself is stopped."""
    settings = PlatformSettings(
        database_url=system.env.get("DATABASE_URL") or None,
        assist_data_dir=system.env["ASSIST_DATA_DIR"],
        database_schema_prefix=system.env.get("DATABASE_SCHEMA_PREFIX", ""),
    )
    url, schema = settings.database_location("session")
    engine = create_engine(sync_url(url), connect_args=connect_args(url, schema))
    try:
        with engine.connect() as db:
            return db.execute(text("SELECT status FROM help_session WHERE session_id = :id"), {"id": session_id}).scalar_one()
    finally:
        engine.dispose()


async def test_no_byte_crosses_before_the_session_is_active(start_system):
    system = start_system()
    system.add_user("consultant", "maria", PASSWORD)
    gateway = system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        request = await request_help(client)
        agent = await connect_agent(gateway, request.session_code)
        await next_control(agent, "attached")
        token = await login(client, "maria", PASSWORD)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text

        consultant = await connect_consultant(gateway, request.session_id, token)
        await next_control(consultant, "attached")
        # Pairing asks for the activation right after `attached`: stop the session service before it can answer.
        session_pid = system.services["session"]["pid"]
        os.kill(session_pid, signal.SIGSTOP)
        try:
            on_record = _status_on_record(system, request.session_id)
            await consultant.send(b"first frame")
            try:
                crossed = await next_binary(agent, timeout=1.5) == b"first frame"
            except TimeoutError:
                crossed = False
            # Normally the stop comes first ("assigned": held); if the activation won the race it was on record.
            assert crossed == (on_record == "active"), f"bytes crossed: {crossed}, session on record: {on_record}"
        finally:
            os.kill(session_pid, signal.SIGCONT)

        if not crossed:  # held, not lost: it passes once the activation is on record
            assert await next_binary(agent, timeout=15) == b"first frame"
        body = await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")
        assert body["started_at"]
        await consultant.close()
        await agent.close()
