"""The customer's door: consent is the JSON boolean true and nothing that looks like it; a 422 names the wrong
field in plain words and no internal model; a flood of anonymous help requests is refused with 429 and
Retry-After, per client address and by a cap on the requests waiting for a consultant.

Other client addresses are real ones: the loopback network is 127.0.0.0/8, so a client that binds its socket to
127.0.0.12 is, to the gateway, another address than one bound to 127.0.0.11 (no proxy header is trusted here).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import nats
import pytest
from identities import PASSWORD, STAFF, module_system
from public_api import CUSTOMER, bearer, login, wait_for_status
from assist_platform.testing import stored_messages

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PROBLEM_JSON = "application/problem+json"
# Never in a problem a customer reads: pydantic's summary line and the names of our request and command models.
INTERNAL_WORDS = ("validation error for", "HelpRequestIn", "ConsentIn", "CustomerIn", "GrantInput", "RequestInput")
# What lax validation would read as `true`, and other things that are not the JSON boolean true.
NOT_CONSENT = ["yes", "on", "1", 1, 1.0, "t", "true", "True", "y", None, False, 0, "false", [], {}, [True]]
PER_ADDRESS = 3
MAX_WAITING = 6


async def help_request_body(client: httpx.AsyncClient, *, email: str, accepted=True, **consent) -> dict:
    terms = (await client.get("/api/v1/terms")).json()
    return {
        "customer": {**CUSTOMER, "email": email},
        "service_type": "consultation",
        "description": "Принтерът не печата",
        "consent": {"accepted": accepted, "terms_version": terms["version"], "scopes": ["view"], **consent},
    }


def assert_readable_problem(response: httpx.Response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status and body["detail"].startswith(f"{field}: "), body
    assert field in [error["field"] for error in body["errors"]], body
    for word in INTERNAL_WORDS:
        assert word not in response.text, f"{word!r} leaks in {response.text}"
    return body


async def customer_emails_in(nats_url: str, stream: str) -> set[str]:
    """The customer e-mail of every event stored in `stream` (consent.granted, session.requested carry one)."""
    nc = await nats.connect(nats_url)
    try:
        emails = set()
        for msg in await stored_messages(nc.jetstream(), stream):
            customer = (json.loads(msg.data).get("data") or {}).get("customer")
            if isinstance(customer, dict):
                emails.add(customer.get("email"))
        return emails
    finally:
        await nc.close()


async def wait_for_emails(nats_url: str, stream: str, wanted: str, timeout: float = 15.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        emails = await customer_emails_in(nats_url, stream)
        if wanted in emails:
            return emails
        assert time.monotonic() < deadline, f"{wanted} never reached {stream}"
        await asyncio.sleep(0.2)  # polling the stream until the outbox has published


async def test_only_the_json_boolean_true_records_a_consent(system):
    run = uuid.uuid4().hex[:8]
    refused_emails = []
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        for index, value in enumerate(NOT_CONSENT):
            email = f"not-consent-{run}-{index}@example.com"
            refused_emails.append(email)
            response = await client.post("/api/v1/help-requests",
                                         json=await help_request_body(client, email=email, accepted=value))
            body = assert_readable_problem(response, 422, "consent.accepted")
            assert "must be true" in body["detail"], (value, body)
            assert "session_id" not in body and "customer_token" not in body
        # The control: a real consent reaches both streams, so the absence of the others means something.
        consenting = f"consent-{run}@example.com"
        accepted = await client.post("/api/v1/help-requests",
                                     json=await help_request_body(client, email=consenting))
        assert accepted.status_code == 201, accepted.text
    consents = await wait_for_emails(system.nats_url, "CONSENT", consenting)
    sessions = await wait_for_emails(system.nats_url, "SESSION", consenting)
    assert not consents & set(refused_emails), "a consent was recorded from a value that is not true"
    assert not sessions & set(refused_emails), "a session was opened from a value that is not true"


async def test_a_422_from_a_service_behind_the_gateway_names_the_field_and_not_the_command_model(system):
    # 50 characters pass the gateway's schema but not the consent service's command model: the problem the
    # customer reads is that service's, and it used to be pydantic's "1 validation error for GrantInput".
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        body = await help_request_body(client, email=f"long-{uuid.uuid4().hex[:8]}@example.com",
                                       terms_version="9" * 50)
        response = await client.post("/api/v1/help-requests", json=body)
    assert_readable_problem(response, 422, "terms_version")


async def test_a_422_at_the_gateway_lists_every_wrong_field_by_its_path(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        body = await help_request_body(client, email="not an address", scopes=["view", "admin"])
        response = await client.post("/api/v1/help-requests", json=body)
    problem = assert_readable_problem(response, 422, "customer.email")
    assert {"customer.email", "consent.scopes.1"} <= {error["field"] for error in problem["errors"]}, problem


@pytest.mark.parametrize(("field", "value"), [("unit_seconds", True), ("unit_seconds", "60"), ("unit_seconds", 60.0),
                                            ("minimum_units", True), ("minimum_units", "1")])
async def test_a_price_takes_no_boolean_or_text_for_a_whole_number(system, field, value):
    # Lax validation would publish `true` as 1 second per unit. The effective time is in the past, so even a
    # price list that got through would be refused by billing: nothing is published either way.
    item = {"code": "consultation", "name": "Консултация", "unit_seconds": 60, "unit_price": "1.00",
            "minimum_units": 1, field: value}
    price_list = {"version": f"coerce-{uuid.uuid4().hex[:6]}", "effective_from": "2020-01-01T00:00:00Z",
                  "currency": "EUR", "vat_rate": "0.20", "service_types": [item]}
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        admin = bearer(await login(client, STAFF["admin"], PASSWORD))
        response = await client.post("/api/v1/price-lists", json=price_list, headers=admin)
    assert_readable_problem(response, 422, f"service_types.0.{field}")


@pytest.fixture(scope="module")
def throttled_system(tmp_path_factory):
    with module_system(
        tmp_path_factory, HELP_REQUESTS_PER_ADDRESS=str(PER_ADDRESS), HELP_REQUESTS_WINDOW_SECONDS="600",
        SESSION_MAX_WAITING_REQUESTS=str(MAX_WAITING),
    ) as system:
        yield system


def client_from(system, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any 127.x.y.z is this machine's loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=system.gateway_url, transport=transport, timeout=30)


async def ask_for_help(client: httpx.AsyncClient) -> httpx.Response:
    body = await help_request_body(client, email=f"flood-{uuid.uuid4().hex[:8]}@example.com")
    return await client.post("/api/v1/help-requests", json=body)


def assert_too_many(response: httpx.Response, *, at_most_seconds: float) -> dict:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= at_most_seconds
    body = response.json()
    assert body["status"] == 429 and body["retry_after"] == retry_after
    assert "session_code" not in body and "customer_token" not in body
    return body


async def terminate(client: httpx.AsyncClient, responses: list[httpx.Response]) -> None:
    """End each request and wait until the session service has ended it too: the 200 means access is cut; the
    session leaves the queue (and frees its place) when session consumes the revocation, a moment later."""
    for response in responses:
        created = response.json()
        ended = await client.post(f"/api/v1/sessions/{created['session_id']}/terminate",
                                  headers=bearer(created["customer_token"]))
        assert ended.status_code == 200, ended.text
    for response in responses:
        created = response.json()
        await wait_for_status(client, created["session_id"], bearer(created["customer_token"]), "ended")


async def test_a_flood_of_help_requests_from_one_address_gets_429_while_another_address_gets_in(throttled_system):
    created = []
    async with client_from(throttled_system, "127.0.0.11") as flooder, \
            client_from(throttled_system, "127.0.0.12") as neighbour:
        try:
            for _ in range(PER_ADDRESS):
                response = await ask_for_help(flooder)
                assert response.status_code == 201, response.text
                created.append(response)
            for _ in range(3):  # and it stays refused: refusals do not let the flood through
                assert_too_many(await ask_for_help(flooder), at_most_seconds=600)
            response = await ask_for_help(neighbour)
            assert response.status_code == 201, response.text
            created.append(response)
        finally:
            await terminate(neighbour, created)  # frees their places in the queue for the next test


async def test_past_the_cap_of_waiting_requests_everyone_gets_429_until_one_leaves_the_queue(throttled_system):
    waiting, refused = [], None
    try:
        for index in range(MAX_WAITING + 1):  # one request per address: the per-address limit refuses none
            async with client_from(throttled_system, f"127.0.0.{20 + index}") as client:
                response = await ask_for_help(client)
            if response.status_code != 201:
                refused = response
                break
            waiting.append(response)
        assert refused is not None, f"{len(waiting)} requests wait, past the cap of {MAX_WAITING}"
        body = assert_too_many(refused, at_most_seconds=600)
        assert str(MAX_WAITING) not in body["detail"]  # the queue's length is nobody's business outside
        async with client_from(throttled_system, "127.0.0.40") as client:
            assert_too_many(await ask_for_help(client), at_most_seconds=600)
            await terminate(client, [waiting.pop(0)])
            response = await ask_for_help(client)
            assert response.status_code == 201, response.text
            waiting.append(response)
    finally:
        async with client_from(throttled_system, "127.0.0.41") as client:
            await terminate(client, waiting)
