"""The authorization matrix: every operation of the gateway's OpenAPI schema and every WebSocket door, called by
every role and by the anonymous caller. The routes come from the running gateway's schema, so a new route that
has no row in POLICY fails the suite until someone decides who may call it.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import websockets
from fastapi.routing import APIWebSocketRoute
from gateway_routes import gateway_routes
from identities import ANONYMOUS, CUSTOMER, IDENTITIES, OTHER_CUSTOMER, STAFF_IDENTITIES, Cast, claimed_session, \
    staff_tokens
from public_api import close_code, connect_agent, next_control, request_help, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EVERYONE = frozenset(IDENTITIES)
CONSULTANTS = frozenset({"consultant", "other_consultant"})
SESSION_VIEWERS = CONSULTANTS | {"supervisor", "admin"}
# The full record and billing report of a session: its assigned consultant (`consultant`: the target session is
# hers), supervisors and admins (their reads audited); never a colleague (`other_consultant`), ongoing or ended.
SESSION_READERS = frozenset({"consultant", "supervisor", "admin"})
FINANCE = frozenset({"finance", "admin"})

# Who may call each operation; everyone else gets 401 (no or no valid credential) or 403 (wrong role or session).
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("POST", "/api/v1/auth/token"): EVERYONE,  # the door itself: the form's password is the credential
    ("POST", "/api/v1/auth/logout"): STAFF_IDENTITIES,
    ("GET", "/api/v1/me"): STAFF_IDENTITIES,
    ("GET", "/api/v1/terms"): EVERYONE,
    ("GET", "/api/v1/price-list"): EVERYONE,
    ("POST", "/api/v1/help-requests"): EVERYONE,
    ("GET", "/api/v1/sessions/{session_id}"): SESSION_READERS | {CUSTOMER},
    ("GET", "/api/v1/sessions/{session_id}/consent-receipt"): frozenset({CUSTOMER}),
    ("GET", "/api/v1/sessions/{session_id}/report"): SESSION_READERS | {CUSTOMER},
    ("POST", "/api/v1/sessions/{session_id}/terminate"): frozenset({CUSTOMER}),
    # Taking a scope back is the customer's alone: no consultant, supervisor or admin narrows a consent (#16).
    ("DELETE", "/api/v1/sessions/{session_id}/scopes/{scope}"): frozenset({CUSTOMER}),
    # A step-up is asked by the session's own consultant (never a colleague, supervisor or admin) and answered by
    # the customer alone: nobody approves on the customer's behalf (#16).
    ("POST", "/api/v1/sessions/{session_id}/scope-requests"): frozenset({"consultant"}),
    ("POST", "/api/v1/sessions/{session_id}/scope-requests/{request_id}/decision"): frozenset({CUSTOMER}),
    # The chat (#17): read by whoever reads the session, written by its customer and its assigned consultant only.
    ("GET", "/api/v1/sessions/{session_id}/chat"): SESSION_READERS | {CUSTOMER},
    ("POST", "/api/v1/sessions/{session_id}/chat/messages"): frozenset({"consultant", CUSTOMER}),
    # File transfers (#17): what the relay saw, read by whoever reads the session (the customer's page shows it).
    ("GET", "/api/v1/sessions/{session_id}/file-transfers"): SESSION_READERS | {CUSTOMER},
    # The recording (#19): read by whoever reads the session (overseers audited), or with the customer's playback
    # ticket (tests/security/test_recording_access.py); a link is minted and an erasure asked by the customer alone.
    ("GET", "/api/v1/sessions/{session_id}/recording"): SESSION_READERS | {CUSTOMER},
    ("GET", "/api/v1/sessions/{session_id}/recording/terminal.cast"): SESSION_READERS | {CUSTOMER},
    ("GET", "/api/v1/sessions/{session_id}/recording/screen"): SESSION_READERS | {CUSTOMER},
    ("GET", "/api/v1/sessions/{session_id}/recording/report"): SESSION_READERS | {CUSTOMER},
    ("GET", "/api/v1/sessions/{session_id}/recording/archive.zip"): SESSION_READERS | {CUSTOMER},
    ("POST", "/api/v1/sessions/{session_id}/recording/link"): frozenset({CUSTOMER}),
    ("POST", "/api/v1/sessions/{session_id}/recording/erase"): frozenset({CUSTOMER}),
    ("GET", "/api/v1/queue"): CONSULTANTS | {"supervisor"},  # cards: no email, phone or description
    ("POST", "/api/v1/sessions/{session_id}/claim"): CONSULTANTS,
    ("POST", "/api/v1/sessions/{session_id}/end"): frozenset({"consultant", "supervisor", "admin"}),
    ("GET", "/api/v1/sessions"): SESSION_VIEWERS,  # a consultant's own in full; overseers' as cards
    ("GET", "/api/v1/billing/records"): FINANCE,
    ("GET", "/api/v1/billing/records/{record_id}"): FINANCE,
    ("GET", "/api/v1/billing/export.csv"): FINANCE,
    ("GET", "/api/v1/billing/credits.csv"): FINANCE,
    ("POST", "/api/v1/billing/records/{record_id}/credits"): FINANCE,
    ("POST", "/api/v1/price-lists"): frozenset({"admin"}),
    ("GET", "/api/v1/audit"): frozenset({"supervisor", "admin"}),
    ("GET", "/downloads/"): EVERYONE,  # the agent's files: public, and only those (T47)
    ("GET", "/downloads/{name}"): EVERYONE,
}
# Operations that change the session they name: each cell gets a fresh session so one caller's success cannot
# hide the next caller's answer.
SESSION_CHANGING = {"/api/v1/sessions/{session_id}/terminate", "/api/v1/sessions/{session_id}/claim",
                    "/api/v1/sessions/{session_id}/end", "/api/v1/sessions/{session_id}/scopes/{scope}",
                    "/api/v1/sessions/{session_id}/scope-requests"}
SAMPLE_BODIES = {
    "/api/v1/sessions/{session_id}/chat/messages": {"text": "authorization matrix"},
    "/api/v1/sessions/{session_id}/scope-requests": {"scopes": ["control"], "reason": "authorization matrix"},
    "/api/v1/sessions/{session_id}/scope-requests/{request_id}/decision": {"approve": True},
    "/api/v1/billing/records/{record_id}/credits": {"amount": "1.00", "reason": "authorization matrix"},
    "/api/v1/price-lists": {
        "version": "matrix", "effective_from": "2099-01-01T00:00:00Z", "currency": "EUR", "vat_rate": "0.20",
        "service_types": [{"code": "matrix", "name": "Matrix", "unit_seconds": 60, "unit_price": "1.00",
                           "minimum_units": 1}],
    },
}
SAMPLE_QUERY = {"from": "2026-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"}


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, operation) for path, item in schema["paths"].items()
            for method, operation in item.items() if method in {"get", "post", "put", "patch", "delete"}]


async def _help_request_body(client: httpx.AsyncClient) -> dict:
    terms = (await client.get("/api/v1/terms")).json()
    return {"customer": {"name": "Матрица", "email": "matrix@example.com"}, "service_type": "consultation",
            "description": "authorization matrix",
            "consent": {"accepted": True, "terms_version": terms["version"], "scopes": ["view"]}}


async def _call(client: httpx.AsyncClient, cast: Cast, identity: str, method: str, path: str, operation: dict,
                bodies: dict) -> httpx.Response:
    values = {"session_id": cast.target.session_id, "record_id": uuid.uuid4().hex, "name": "assist-agent.whl",
              "scope": "control", "request_id": str(uuid.uuid4()),
              **SAMPLE_QUERY}
    url, params = path, {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            url = url.replace("{" + name + "}", values[name])
        elif parameter["in"] == "query" and parameter.get("required"):
            assert name in values, f"{method} {path}: give the required query parameter {name!r} a sample value"
            params[name] = values[name]
    kwargs: dict = {"params": params, "headers": cast.headers(identity)}
    if path == "/api/v1/auth/token":
        kwargs["data"] = {"username": "maria", "password": "a long enough password"}
    elif "requestBody" in operation:
        assert path in bodies, f"{method} {path}: add a sample body to SAMPLE_BODIES"
        kwargs["json"] = bodies[path]
    return await client.request(method, url, **kwargs)


async def _cast_for(client: httpx.AsyncClient, tokens: dict, path: str, shared: Cast, identity: str) -> Cast:
    if path == "/api/v1/auth/logout" and identity in STAFF_IDENTITIES:
        fresh = await staff_tokens(client)  # logging out spends the token: the other cells keep theirs
        return Cast(shared.target, shared.other, fresh)
    if path not in SESSION_CHANGING:
        return shared
    if path.endswith("/claim"):
        return Cast(await request_help(client), shared.other, tokens)
    return Cast(await claimed_session(client, tokens), shared.other, tokens)


async def test_every_operation_answers_each_identity_as_the_policy_says(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        schema = (await client.get("/openapi.json")).json()
        operations = _operations(schema)
        assert {(method, path) for method, path, _ in operations} == set(POLICY), \
            "the schema and POLICY disagree: classify every new route (or drop a removed one)"
        tokens = await staff_tokens(client)
        shared = Cast(await claimed_session(client, tokens), await request_help(client), tokens)
        bodies = {**SAMPLE_BODIES, "/api/v1/help-requests": await _help_request_body(client)}
        wrong = []
        for method, path, operation in operations:
            for identity in IDENTITIES:
                cast = await _cast_for(client, tokens, path, shared, identity)
                status = (await _call(client, cast, identity, method, path, operation, bodies)).status_code
                allowed = identity in POLICY[(method, path)]
                if status >= 500 or (allowed and status in (401, 403)) or (not allowed and status not in (401, 403)) \
                        or (identity == ANONYMOUS and not allowed and status != 401):
                    wrong.append(f"{identity:>16} {method} {path} → {status} (allowed: {allowed})")
        assert not wrong, "\n".join(wrong)


# --- the WebSocket doors ------------------------------------------------------------------------------------------

def _websocket_paths() -> set[str]:
    """The gateway's WebSocket routes, from the app itself (they are not in the OpenAPI schema)."""
    return {path for path, route in gateway_routes() if isinstance(route, APIWebSocketRoute)}


def test_every_websocket_door_is_in_the_matrix():
    # The observer's door has its own tests (test_observer_trust.py): it needs a running session; so does the
    # customer's browser share (test_share_trust.py: its token comes in the first frame, not a header).
    assert _websocket_paths() == {"/ws/v1/agent", "/ws/v1/consultant/{session_id}", "/ws/v1/observer/{session_id}",
                                  "/ws/v1/share/{session_id}"}


async def _consultant_door(system, cast: Cast, identity: str) -> int | None:
    url = f"{ws_url(system.gateway_url)}/ws/v1/consultant/{cast.target.session_id}"
    async with websockets.connect(url, additional_headers=cast.headers(identity)) as ws:
        try:
            await next_control(ws, "attached", timeout=10)
            return 1000  # attached: let in
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def test_only_the_assigned_consultant_opens_the_consultant_door(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        tokens = await staff_tokens(client)
        cast = Cast(await claimed_session(client, tokens), await request_help(client), tokens)
    expected = {ANONYMOUS: 4401, CUSTOMER: 4401, OTHER_CUSTOMER: 4401, "consultant": 1000,
                "other_consultant": 4403, "supervisor": 4403, "finance": 4403, "admin": 4403}
    answers = {identity: await _consultant_door(system, cast, identity) for identity in IDENTITIES}
    assert answers == expected


async def test_the_agent_door_opens_only_with_the_session_code_whatever_else_is_sent(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        tokens = await staff_tokens(client)
        cast = Cast(await request_help(client), await request_help(client), tokens)
    base = f"{ws_url(system.gateway_url)}/ws/v1/agent?code="
    for identity in IDENTITIES:  # a staff or customer credential is no session code
        async with websockets.connect(base + "000000000", additional_headers=cast.headers(identity)) as ws:
            assert (await close_code(ws))[0] == 4403, identity
    agent = await connect_agent(system.gateway_url, cast.target.session_code)
    assert (await next_control(agent, "attached"))["session_id"] == cast.target.session_id
    await agent.close()
    # The code is single use: a second agent with the same code is refused.
    async with websockets.connect(base + cast.target.session_code) as ws:
        assert (await close_code(ws))[0] in (4403, 4410)
    assert OTHER_CUSTOMER  # the other customer's code opens only the other session (covered by the code's use)
