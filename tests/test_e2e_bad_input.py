"""Bad input through the public interfaces: always a clear problem+json, never a 500, and code guessing is slow."""

from __future__ import annotations

import uuid

import httpx
import pytest
import websockets
from public_api import CUSTOMER, bearer, close_code, connect_agent, login, next_control, request_help, ws_url

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_bad_requests_get_problem_details_and_never_a_500(start_system):
    system = start_system(gateways=1, shared=True)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        terms = (await client.get("/api/v1/terms")).json()
        good = {
            "customer": CUSTOMER, "service_type": "consultation", "description": "Не работи",
            "consent": {"accepted": True, "terms_version": terms["version"], "scopes": ["view"]},
        }

        def variant(**changes) -> dict:
            body = {**good, **changes}
            return body

        post = lambda body: client.post("/api/v1/help-requests", json=body)  # noqa: E731
        assert_problem(await post(variant(consent={**good["consent"], "accepted": False})), 422)
        assert_problem(await post(variant(consent={**good["consent"], "terms_version": "1999-01-01"})), 409)
        assert_problem(await post(variant(consent={**good["consent"], "scopes": ["root"]})), 422)
        assert_problem(await post(variant(service_type="teleportation")), 422)
        assert_problem(await post(variant(customer={"name": "", "email": "not an e-mail"})), 422)
        assert_problem(await post({"customer": "nope"}), 422)
        malformed = await client.post("/api/v1/help-requests", content=b"{not json",
                                      headers={"content-type": "application/json"})
        assert malformed.status_code in (400, 422) and malformed.headers["content-type"].startswith(PROBLEM_JSON)
        oversized = variant(description="x" * 70_000)
        assert_problem(await post(oversized), 413)

        request = await request_help(client)
        other = await request_help(client)
        unknown = str(uuid.uuid4())
        # A customer's token says nothing about other ids, existing or not; staff learn that an id is unknown.
        assert_problem(await client.get(f"/api/v1/sessions/{unknown}", headers=bearer(request.customer_token)), 403)
        system.add_user("supervisor", "vera", "a long enough password")
        staff = bearer(await login(client, "vera", "a long enough password"))
        assert_problem(await client.get(f"/api/v1/sessions/{unknown}", headers=staff), 404)
        assert_problem(await client.get("/api/v1/sessions/not-a-uuid", headers=staff), 404)
        # One customer's token neither reads nor ends another customer's session.
        foreign = await client.get(f"/api/v1/sessions/{other.session_id}", headers=bearer(request.customer_token))
        assert foreign.status_code in (403, 404) and foreign.headers["content-type"].startswith(PROBLEM_JSON)
        foreign_end = await client.post(f"/api/v1/sessions/{other.session_id}/terminate",
                                        headers=bearer(request.customer_token))
        assert foreign_end.status_code in (403, 404)
        assert (await client.get(f"/api/v1/sessions/{other.session_id}",
                                 headers=bearer(other.customer_token))).json()["status"] == "waiting"
        assert_problem(await client.post(f"/api/v1/sessions/{request.session_id}/terminate"), 401)
        assert_problem(await client.get("/api/v1/queue"), 401)
        assert_problem(await client.get("/api/v1/no-such-route"), 404)


async def test_guessing_session_codes_is_rate_limited_per_client_address(start_system):
    system = start_system(gateways=1, extra_env={"CODE_ATTEMPTS_PER_MINUTE": "5"})
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        request = await request_help(client)
    wrong = f"{(int(request.session_code) + 1) % 10**9:09d}"
    codes = []
    for _ in range(5):
        codes.append((await close_code(await connect_agent(system.gateway_url, wrong)))[0])
    assert codes == [4403] * 5
    # The sixth attempt within the minute is refused before the code is even looked at: even the right code.
    assert (await close_code(await connect_agent(system.gateway_url, request.session_code)))[0] == 4429
    # Counted per client address: the customer's own computer (another loopback address here) is not locked out.
    customer = await websockets.connect(f"{ws_url(system.gateway_url)}/ws/v1/agent?code={request.session_code}",
                                        max_size=None, local_addr=("127.0.0.2", 0))
    assert (await next_control(customer, "attached"))["session_id"] == request.session_id
    await customer.close()
