"""Billing end to end: every started session yields exactly one closed record that follows the price list."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import subprocess
import sys
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
from billing_events import closed_record
from public_api import CUSTOMER, bearer, events_for, login, request_help, wait_for_status
from relay_flow import open_relay

pytestmark = pytest.mark.e2e

ASSIST = str(Path(sys.executable).parent / "assist")

FINANCE_PASSWORD = "finance password 1"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected_charge(price: dict, vat_rate: Decimal, seconds: int) -> dict[str, Decimal | int]:
    units = max(price["minimum_units"], math.ceil(seconds / price["unit_seconds"]))
    net = units * Decimal(price["unit_price"])
    vat = (net * vat_rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {"units": units, "net": net, "vat": vat, "gross": net + vat}


async def test_started_sessions_are_billed_once_and_unstarted_ones_never(start_system):
    system = start_system(gateways=1)
    gateway = system.gateway_url
    system.add_user("finance", "fiona", FINANCE_PASSWORD)
    # First, so that billing has consumed its session.ended by the time it closes the later sessions' records.
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:
        never_started = await request_help(client)
        assert (await client.post(f"/api/v1/sessions/{never_started.session_id}/terminate",
                                  headers=bearer(never_started.customer_token))).status_code == 200

    by_customer, agent, consultant, consultant_token = await open_relay(system, agent_gateway=gateway,
                                                                       consultant_gateway=gateway)
    await asyncio.sleep(1.2)  # some active time to bill
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:
        ended = await client.post(f"/api/v1/sessions/{by_customer.session_id}/terminate",
                                  headers=bearer(by_customer.customer_token))
        assert ended.status_code == 200 and ended.json()["ended_by"] == "customer"
    by_consultant, agent2, consultant2, _ = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:
        ended = await client.post(f"/api/v1/sessions/{by_consultant.session_id}/end", headers=bearer(consultant_token))
        assert ended.status_code == 200 and ended.json() == {"status": "ended", "ended_by": "consultant"}
        price_list = (await client.get("/api/v1/price-list")).json()
        price = next(item for item in price_list["service_types"] if item["code"] == "consultation")
        vat_rate = Decimal(price_list["vat_rate"])
        finance = bearer(await login(client, "fiona", FINANCE_PASSWORD))

        for request, ended_by in ((by_customer, "customer"), (by_consultant, "consultant")):
            session = await wait_for_status(client, request.session_id, bearer(request.customer_token), "ended")
            record = await closed_record(client, finance, request.session_id)
            active = parse_time(session["ended_at"]) - parse_time(session["started_at"])
            assert record["billable_seconds"] == math.ceil(active.total_seconds())
            charge = expected_charge(price, vat_rate, record["billable_seconds"])
            assert record["units"] == charge["units"]
            assert Decimal(record["net"]) == charge["net"] and Decimal(record["vat"]) == charge["vat"]
            assert Decimal(record["gross"]) == charge["gross"]
            assert record["ended_by"] == ended_by and record["price_list_version"] == price_list["version"]
            assert record["customer"]["name"] == CUSTOMER["name"]
            report = (await client.get(f"/api/v1/sessions/{request.session_id}/report",
                                       headers=bearer(request.customer_token))).json()
            assert report["gross"] == record["gross"] and report["consultant"] == "maria"

        all_records = (await client.get("/api/v1/billing/records", params={"limit": 500}, headers=finance)).json()
        assert never_started.session_id not in [record["session_id"] for record in all_records["records"]]

        export = await client.get("/api/v1/billing/export.csv", headers=finance,
                                  params={"from": "2026-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8"))))
        exported = {row["session_id"]: row for row in rows}
        assert set(exported) >= {by_customer.session_id, by_consultant.session_id}
        assert never_started.session_id not in exported
        assert CUSTOMER["name"] in export.content.decode("utf-8")

        for route in ("/api/v1/billing/records", "/api/v1/billing/export.csv?from=2026-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"):
            refused = await client.get(route, headers=bearer(consultant_token))
            assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")

    for request in (by_customer, by_consultant):
        closed = [event for event, _ in await events_for(system.nats_url, "BILLING", request.session_id)
                  if event["type"] == "billing.record.closed"]
        assert len(closed) == 1, closed
    assert await events_for(system.nats_url, "BILLING", never_started.session_id) == []

    # The reference integration for finance systems reads the same events as JSON lines.
    tail = subprocess.run([ASSIST, "finance", "tail", "--count", "4"], env={**system.env, "NATS_URL": system.nats_url},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert tail.returncode == 0, tail.stderr
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert len(lines) == 4 and {line["type"] for line in lines} == {"billing.record.opened", "billing.record.closed"}
    assert {line["subject"] for line in lines} == {by_customer.session_id, by_consultant.session_id}
