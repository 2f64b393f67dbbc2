"""Observability end to end: one trace per terminate, metrics that move, clean logs, and a tamper-evident audit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import websockets
from public_api import bearer, close_code, login, wait_for_status, ws_url
from relay_flow import PASSWORD, open_relay
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e

SUPERVISOR_PASSWORD = "supervisor password 1"
# The gateway serves /metrics only to a scraper with this token (METRICS_TOKEN); the internal services to anyone.
METRICS_TOKEN = "metrics token of the observability test"
TRACE_STEPS = {
    "terminate request": ("assist-gateway", lambda span: span["kind"] == "SERVER"
                          and span["name"].startswith("POST") and "terminate" in span["name"]),
    "consent revocation": ("assist-consent", lambda span: span["name"] == "command cmd.consent.revoke"),
    # The session ends from the revocation's event, in the same trace (its traceparent travels with the event).
    "session end": ("assist-session", lambda span: span["name"] == "consume consent.revoked"),
    "billing close": ("assist-billing", lambda span: span["name"] == "consume session.ended"),
}


def read_spans(system) -> list[dict]:
    spans = []
    for path in (system.data_dir / "spans").glob("*.jsonl"):
        spans += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return spans


async def wait_for_one_trace(system, session_id: str, timeout: float = 20.0) -> tuple[str, dict[str, dict]]:
    """The trace of the session's terminate, once every step of it has been exported by its service."""
    deadline = time.monotonic() + timeout
    while True:
        spans = read_spans(system)
        roots = [span for span in spans if TRACE_STEPS["terminate request"][1](span)
                 and span["attributes"].get("http.route", "").endswith("/terminate")]
        for root in roots:
            in_trace = [span for span in spans if span["trace_id"] == root["trace_id"]]
            found = {step: next((span for span in in_trace if span["service"] == service and match(span)), None)
                     for step, (service, match) in TRACE_STEPS.items()}
            closing = found["billing close"]
            if all(found.values()) and closing["attributes"].get("assist.session_id") == session_id:
                return root["trace_id"], found
        if time.monotonic() > deadline:
            names = sorted({(span["service"], span["name"]) for span in spans})
            raise AssertionError(f"no single trace covers the terminate of {session_id}; spans seen: {names}")
        await asyncio.sleep(0.2)


def scrape(url: str) -> dict[str, float]:
    """`/metrics` as {sample name with labels: value}, read as Prometheus would with its bearer token."""
    response = httpx.get(f"{url}/metrics", headers=bearer(METRICS_TOKEN), timeout=5)
    assert response.status_code == 200, response.text
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(value for name, value in samples.items() if name.startswith(prefix))


def nats_passwords(system) -> list[str]:
    """The NATS passwords `assist dev` generated for this run: the operator's (in dev.json) and each service's
    (in its process environment, read while it runs)."""
    passwords = [unquote(urlsplit(system.nats_url).password or "")]
    for service in system.services.values():
        environ = Path(f"/proc/{service['pid']}/environ").read_bytes().split(b"\0")
        passwords += [entry.split(b"=", 1)[1].decode() for entry in environ if entry.startswith(b"NATS_PASSWORD=")]
    assert len(passwords) == len(system.services) + 1 and all(passwords), "every process has a NATS password"
    return passwords


def assert_no_secret_in_logs(system, secrets: list[str]) -> None:
    assert all(secrets)
    logs = list((system.data_dir / "logs").glob("*.log")) + [system.output_path]
    assert len(logs) >= 5
    for path in logs:
        content = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in content, f"{path.name} contains a secret ({secret[:4]}...)"


async def test_a_customer_terminate_is_one_trace_and_moves_the_metrics(start_system):
    system = start_system(gateways=1, extra_env={"ASSIST_TRACE_SPANS": "1", "METRICS_TOKEN": METRICS_TOKEN})
    gateway = system.gateway_url
    assert httpx.get(f"{gateway}/metrics", timeout=5).status_code == 401  # not without the token
    before = {name: scrape(service["url"]) for name, service in system.services.items()}
    request, agent, consultant, staff_token = await open_relay(system, agent_gateway=gateway,
                                                               consultant_gateway=gateway)
    during = scrape(system.services["gateway-1"]["url"])
    assert during['assist_open_relay_endpoints{role="agent"}'] == 1
    assert during['assist_open_relay_endpoints{role="consultant"}'] == 1
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        ended = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
        assert ended.status_code == 200, ended.text
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
    assert (await close_code(agent))[0] == 4410 and (await close_code(consultant))[0] == 4410

    trace_id, steps = await wait_for_one_trace(system, request.session_id)
    assert {span["trace_id"] for span in steps.values()} == {trace_id}
    assert steps["billing close"]["kind"] == "CONSUMER"

    # The revocation histogram and the billed counters moved; gauges tell the relay is gone.
    after_gateway = scrape(system.services["gateway-1"]["url"])
    assert after_gateway['assist_revocation_seconds_count{path="nats"}'] \
        == before["gateway-1"].get('assist_revocation_seconds_count{path="nats"}', 0) + 1
    assert after_gateway['assist_open_relay_endpoints{role="agent"}'] == 0
    deadline = time.monotonic() + 15
    while (billed := scrape(system.services["billing"]["url"])).get(
            'assist_billing_records_closed_total{service_type="consultation"}', 0) < 1:
        assert time.monotonic() < deadline, "billing never counted the closed record"
        await asyncio.sleep(0.1)
    assert billed['assist_billed_amount_total{currency="EUR",service_type="consultation"}'] > 0 \
        or total(billed, "assist_billed_amount_total{") > 0
    assert billed['assist_billable_seconds_total{service_type="consultation"}'] >= 1
    sessions = scrape(system.services["session"]["url"])
    assert sessions['assist_sessions{state="ended"}'] >= 1
    for name, service in system.services.items():
        samples = scrape(service["url"])
        assert "assist_outbox_backlog" in samples and "assist_outbox_oldest_age_seconds" in samples, name
    assert 'assist_consumer_pending_messages{consumer="billing"}' in billed

    passwords = nats_passwords(system)
    system.stop()
    assert_no_secret_in_logs(system, [request.customer_token, staff_token, PASSWORD, request.session_code,
                                      METRICS_TOKEN, agent.attached["resume_token"], *passwords])


async def test_the_audit_trail_tells_the_session_and_detects_an_edited_row(start_system, monkeypatch):
    system = start_system(gateways=1)
    gateway = system.gateway_url
    system.add_user("supervisor", "sofia", SUPERVISOR_PASSWORD)
    request, agent, consultant, staff_token = await open_relay(system, agent_gateway=gateway,
                                                               consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        assert (await client.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                  headers=bearer(request.customer_token))).status_code == 200
        await close_code(agent)
        await close_code(consultant)
        # The agent coming back with its resume token after the end: refused, and the token in the URL never logged.
        late = await websockets.connect(f"{ws_url(gateway)}/ws/v1/agent?session={request.session_id}"
                                        f"&resume={agent.attached['resume_token']}", max_size=None)
        assert (await close_code(late))[0] in (4403, 4410)
        supervisor_token = await login(client, "sofia", SUPERVISOR_PASSWORD)
        supervisor = bearer(supervisor_token)
        assert (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                 headers=bearer(staff_token))).status_code == 403
        deadline = time.monotonic() + 10
        while True:
            trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                      headers=supervisor)).json()
            actions = [(entry["service"], entry["action"]) for entry in trail["entries"]]
            if actions.count(("gateway", "relay.disconnected")) == 2:
                break
            assert time.monotonic() < deadline, actions
            await asyncio.sleep(0.1)
        receipt = (await client.get(f"/api/v1/sessions/{request.session_id}/consent-receipt",
                                    headers=bearer(request.customer_token))).json()

    for expected in [("consent", "consent.granted"), ("session", "session.claimed"), ("gateway", "relay.connected"),
                     ("consent", "consent.revoked"), ("session", "session.ended")]:
        assert expected in actions, (expected, actions)
    assert actions.index(("consent", "consent.granted")) < actions.index(("session", "session.claimed")) \
        < actions.index(("consent", "consent.revoked"))
    by_action = {entry["action"]: entry for entry in trail["entries"]}
    assert by_action["session.claimed"]["actor"] == "maria"
    assert by_action["consent.revoked"]["actor"] == "customer"
    assert by_action["consent.revoked"]["client_address"] == "127.0.0.1"
    granted = by_action["consent.granted"]
    assert receipt["audit_entry"] == {"service": "consent", "id": granted["id"], "hash": granted["hash"]}

    verified = system.assist("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "session: intact" in verified.stdout and "consent: intact" in verified.stdout

    claimed = by_action["session.claimed"]
    for key in ("ASSIST_DATA_DIR", "DATABASE_URL", "DATABASE_SCHEMA_PREFIX"):
        if key in system.env:
            monkeypatch.setenv(key, system.env[key])
    from assist import services
    from assist_platform.db import connect_args, sync_url

    url, schema = services.settings_for("session").database_location("session")
    engine = create_engine(sync_url(url), connect_args=connect_args(url, schema))
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_entry SET actor = 'somebody else' WHERE id = :id"),
                           {"id": claimed["id"]})
    engine.dispose()

    tampered = system.assist("audit", "verify")
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert f"session: entry {claimed['id']} (session.claimed at " in tampered.stdout
    assert "consent: intact" in tampered.stdout

    passwords = nats_passwords(system)
    system.stop()
    assert_no_secret_in_logs(system, [request.customer_token, staff_token, PASSWORD, SUPERVISOR_PASSWORD,
                                      supervisor_token, agent.attached["resume_token"], *passwords,
                                      request.session_code])
