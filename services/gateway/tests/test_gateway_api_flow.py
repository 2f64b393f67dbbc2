"""The public API end to end through the gateway, with the consent and session services running in-process."""

from __future__ import annotations

from public_api import wait_for_status

PROBLEM = "application/problem+json"
CONTRACT_FIELDS = {"session_id", "status", "service_type", "consultant", "requested_at", "started_at", "ended_at",
                   "ended_by", "end_reason"}
# What the customer page shows of the agent (issue #13).
AGENT_FIELDS = {"agent", "agent_away_since", "agent_grace_ends_at", "paused_seconds"}


async def current_terms_version(gateway) -> str:
    return (await gateway.client.get("/api/v1/terms")).json()["version"]


async def ask_for_help(gateway, **changes) -> dict:
    body = {
        "customer": {"name": "Ива Петрова", "email": "iva@example.com", "company": "Ива ЕООД"},
        "service_type": "consultation",
        "description": "My printer does not print.",
        "consent": {
            "accepted": True,
            "terms_version": await current_terms_version(gateway),
            "scopes": ["view"],
        },
    }
    body.update(changes)
    response = await gateway.client.post("/api/v1/help-requests", json=body, headers={"User-Agent": "pytest"})
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_terms_come_in_bulgarian_by_default_and_in_english(system) -> None:
    bulgarian = (await system.client.get("/api/v1/terms")).json()
    english = (await system.client.get("/api/v1/terms?lang=en")).json()
    assert {"version", "sha256", "text"} <= set(bulgarian)
    assert bulgarian["version"] == english["version"]
    assert bulgarian["text"] != english["text"]
    assert (await system.client.get("/api/v1/terms?lang=de")).status_code == 422


async def test_a_help_request_opens_a_waiting_session_the_customer_can_follow(system) -> None:
    created = await ask_for_help(system)
    assert created["status"] == "waiting"
    assert {"session_id", "session_code", "customer_token", "expires_at"} <= set(created)
    response = await system.client.get(
        f"/api/v1/sessions/{created['session_id']}", headers=bearer(created["customer_token"])
    )
    assert response.status_code == 200
    view = response.json()
    assert set(view) == (CONTRACT_FIELDS | {"scopes", "scope_request", "observers", "chat_seq", "recording"}
                         | AGENT_FIELDS)
    assert (view["status"], view["scopes"], view["consultant"]) == ("waiting", ["view"], None)
    assert view["scope_request"] is None  # nobody asked for more
    assert view["recording"] is None  # nothing recorded before a consultant is there (#19)
    assert (view["agent"], view["agent_away_since"], view["agent_grace_ends_at"], view["paused_seconds"]) == (
        "not_started", None, None, 0)


async def test_an_outdated_terms_version_is_a_conflict(system) -> None:
    body = {
        "customer": {"name": "Ива", "email": "iva@example.com"},
        "service_type": "consultation",
        "description": "x",
        "consent": {"accepted": True, "terms_version": "1999-01-01", "scopes": ["view"]},
    }
    response = await system.client.post("/api/v1/help-requests", json=body)
    assert (response.status_code, response.headers["content-type"]) == (409, PROBLEM)


async def test_an_unknown_service_type_is_422(system) -> None:
    body = {
        "customer": {"name": "Ива", "email": "iva@example.com"},
        "service_type": "astrology",
        "description": "x",
        "consent": {
            "accepted": True,
            "terms_version": await current_terms_version(system),
            "scopes": ["view"],
        },
    }
    response = await system.client.post("/api/v1/help-requests", json=body)
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)


async def test_a_customer_token_opens_only_its_own_session(system) -> None:
    first, second = await ask_for_help(system), await ask_for_help(system)
    response = await system.client.get(
        f"/api/v1/sessions/{second['session_id']}", headers=bearer(first["customer_token"])
    )
    assert (response.status_code, response.headers["content-type"]) == (403, PROBLEM)
    terminate = await system.client.post(
        f"/api/v1/sessions/{second['session_id']}/terminate", headers=bearer(first["customer_token"])
    )
    assert terminate.status_code == 403


async def test_staff_see_sessions_and_unknown_ones_are_404(system) -> None:
    created = await ask_for_help(system)
    consultant = await system.staff_headers("carl", "consultant")
    detail = f"/api/v1/sessions/{created['session_id']}"
    # Need-to-know: the full record only once the session is the consultant's own.
    assert (await system.client.get(detail, headers=consultant)).status_code == 403
    await system.client.post(f"{detail}/claim", headers=consultant)
    view = (await system.client.get(detail, headers=consultant)).json()
    assert view["customer"]["name"] == "Ива Петрова"
    missing = await system.client.get(
        "/api/v1/sessions/00000000-0000-4000-8000-000000000000", headers=consultant
    )
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


async def test_the_queue_claiming_and_a_consultants_end(system) -> None:
    older, newer = await ask_for_help(system), await ask_for_help(system)
    carl = await system.staff_headers("carl", "consultant")
    dora = await system.staff_headers("dora", "consultant")
    queue = (await system.client.get("/api/v1/queue", headers=carl)).json()["sessions"]
    assert [s["session_id"] for s in queue] == [older["session_id"], newer["session_id"]]

    claimed = await system.client.post(f"/api/v1/sessions/{older['session_id']}/claim", headers=carl)
    assert claimed.status_code == 200
    assert (claimed.json()["status"], claimed.json()["consultant"]) == ("assigned", "carl")
    taken = await system.client.post(f"/api/v1/sessions/{older['session_id']}/claim", headers=dora)
    assert (taken.status_code, taken.headers["content-type"]) == (409, PROBLEM)

    not_hers = await system.client.post(f"/api/v1/sessions/{older['session_id']}/end", headers=dora)
    assert not_hers.status_code == 403
    ended = await system.client.post(f"/api/v1/sessions/{older['session_id']}/end", headers=carl)
    assert (ended.status_code, ended.json()) == (200, {"status": "ended", "ended_by": "consultant"})
    # The customer ending afterwards changes nothing: the first ending counts.
    later = await system.client.post(
        f"/api/v1/sessions/{older['session_id']}/terminate", headers=bearer(older["customer_token"])
    )
    assert (later.status_code, later.json()["ended_by"]) == (200, "consultant")
    remaining = (await system.client.get("/api/v1/queue", headers=carl)).json()["sessions"]
    assert [s["session_id"] for s in remaining] == [newer["session_id"]]


async def test_a_supervisor_may_end_any_session_and_the_end_is_recorded_as_the_supervisor_s(system) -> None:
    created = await ask_for_help(system)
    carl = await system.staff_headers("carl", "consultant")
    assert (await system.client.post(f"/api/v1/sessions/{created['session_id']}/claim", headers=carl)).status_code == 200
    sue = await system.staff_headers("sue", "supervisor")
    ended = await system.client.post(f"/api/v1/sessions/{created['session_id']}/end", headers=sue)
    assert (ended.status_code, ended.json()) == (200, {"status": "ended", "ended_by": "supervisor"})
    # The customer, and the consultant whose session it was, read the supervisor's end too (the session ends
    # from consent.revoked, a moment after the answer).
    for headers in (bearer(created["customer_token"]), carl):
        view = await wait_for_status(system.client, created["session_id"], headers, "ended")
        assert (view["status"], view["ended_by"], view["end_reason"]) == ("ended", "supervisor", "supervisor_ended")


async def test_the_customer_terminates_and_a_second_terminate_answers_the_same(system) -> None:
    created = await ask_for_help(system)
    path, headers = f"/api/v1/sessions/{created['session_id']}", bearer(created["customer_token"])
    for _ in range(2):
        response = await system.client.post(f"{path}/terminate", headers=headers)
        assert (response.status_code, response.json()) == (200, {"status": "ended", "ended_by": "customer"})
    view = await wait_for_status(system.client, created["session_id"], headers, "ended")
    assert (view["status"], view["ended_by"], view["end_reason"]) == (
        "ended",
        "customer",
        "customer_terminated",
    )
    assert view["ended_at"] is not None


async def test_the_consent_receipt_downloads_as_a_file(system) -> None:
    created = await ask_for_help(system)
    response = await system.client.get(
        f"/api/v1/sessions/{created['session_id']}/consent-receipt", headers=bearer(created["customer_token"])
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="consent-receipt-{created["session_id"]}.json"'
    )
    assert created["session_id"] in response.text


async def test_session_history_is_all_for_supervisors_and_own_for_consultants(system) -> None:
    mine, other = await ask_for_help(system), await ask_for_help(system)
    carl = await system.staff_headers("carl", "consultant")
    sue = await system.staff_headers("sue", "supervisor")
    await system.client.post(f"/api/v1/sessions/{mine['session_id']}/claim", headers=carl)

    def ids(response) -> set[str]:
        return {s["session_id"] for s in response.json()["sessions"]}

    assert ids(await system.client.get("/api/v1/sessions", headers=carl)) == {mine["session_id"]}
    assert ids(await system.client.get("/api/v1/sessions", headers=sue)) == {
        mine["session_id"],
        other["session_id"],
    }
    waiting = await system.client.get("/api/v1/sessions?status=waiting", headers=sue)
    assert ids(waiting) == {other["session_id"]}


async def test_the_price_list_is_public(system) -> None:
    response = await system.client.get("/api/v1/price-list")
    assert response.status_code == 200
    assert {"version", "currency", "vat_rate", "service_types"} <= set(response.json())


async def test_finance_reads_billing_records(system) -> None:
    finance = await system.staff_headers("fin", "finance")
    listed = await system.client.get("/api/v1/billing/records?status=closed", headers=finance)
    assert listed.status_code == 200
    assert listed.json()["records"] == []
    missing = await system.client.get("/api/v1/billing/records/no-such-record", headers=finance)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    naive = await system.client.get("/api/v1/billing/records?from=2026-01-01T00:00:00", headers=finance)
    assert naive.status_code == 422
    consultant = await system.staff_headers("carl", "consultant")
    assert (await system.client.get("/api/v1/billing/records", headers=consultant)).status_code == 403


async def test_an_ending_cuts_first_only_where_the_session_has_an_endpoint(gateway) -> None:
    """The replica that takes an ending cuts its own endpoints before revoking (relay/hub.py); with none here it
    remembers nothing, so an ending the consent service refuses leaves no session refused here."""
    hub = gateway.app.state.relay_hub
    assert hub.cut_endpoints_here("s-elsewhere", ended_by="customer", reason="customer_terminated") == []
    assert "s-elsewhere" not in hub.ended
