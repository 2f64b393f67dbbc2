"""Restart the infrastructure under a stream of sessions: NATS (stop, start on the same port and store), and
PostgreSQL (when the services run on it and this machine lets the test restart it). Same invariants as the kills.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from stream import assert_invariants, run_stream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SESSIONS, CONCURRENCY = 12, 4


async def test_a_nats_restart_loses_no_event_and_bills_no_session_twice(stack_factory):
    stack = stack_factory(gateways=1)

    async def restart_nats() -> None:
        await asyncio.to_thread(stack.nats.stop)
        await asyncio.to_thread(stack.nats.start)

    outcomes = await run_stream(stack.gateway_urls, sessions=SESSIONS, concurrency=CONCURRENCY,
                                fault=restart_nats, fault_after=SESSIONS // 3)
    await assert_invariants(stack.nats.url, outcomes)
    assert sum(o.relayed for o in outcomes) >= SESSIONS // 2, [o.disturbed for o in outcomes]
    stack.all_alive()


def _postgres_restart_command() -> list[str]:
    """The command that restarts this machine's PostgreSQL cluster, or a skip saying why there is none."""
    if not (os.environ.get("DATABASE_URL") or "").startswith("postgresql"):
        pytest.skip("the services run on SQLite here (DATABASE_URL is not PostgreSQL): nothing to restart")
    clusters = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not clusters.is_dir() or not any(clusters.iterdir()):
        pytest.skip("PostgreSQL is not a local pg_ctlcluster service on this machine (a remote or container server)")
    if os.geteuid() != 0:
        pytest.skip("restarting the system's PostgreSQL needs root")
    version = sorted(path.name for path in clusters.iterdir())[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


# The machine's PostgreSQL is every test's: restarted beside another test, it fails that test too (seen under
# pytest-xdist). `make test` runs it in a pass of its own after the others.
@pytest.mark.exclusive
async def test_a_postgresql_restart_loses_no_event_and_bills_no_session_twice(stack_factory):
    command = _postgres_restart_command()
    stack = stack_factory(gateways=1)

    async def restart_postgres() -> None:
        result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    outcomes = await run_stream(stack.gateway_urls, sessions=SESSIONS, concurrency=CONCURRENCY,
                                fault=restart_postgres, fault_after=SESSIONS // 3)
    await assert_invariants(stack.nats.url, outcomes)
    assert sum(o.relayed for o in outcomes) >= SESSIONS // 2, [o.disturbed for o in outcomes]
    stack.all_alive()
