"""The edge holds: body limits, malformed JSON, roles, security headers; every 4xx is problem+json, never a
500.
"""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"


def help_request(**consent) -> dict:
    return {
        "customer": {"name": "Ива Петрова", "email": "iva@example.com"},
        "service_type": "consultation",
        "description": "My printer does not print.",
        "consent": {"accepted": True, "terms_version": "2024-01", "scopes": ["view"], **consent},
    }


async def test_a_body_over_the_limit_is_a_413_problem(gateway) -> None:
    limit = gateway.app.state.settings.max_body_bytes
    body = help_request()
    body["description"] = "x" * (limit + 1)
    response = await gateway.client.post("/api/v1/help-requests", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413


async def test_a_streamed_body_over_the_limit_is_a_413_problem(gateway) -> None:
    limit = gateway.app.state.settings.max_body_bytes

    async def chunks():
        # No Content-Length: the limit has to be enforced by counting what arrives.
        yield b'{"description": "'
        for _ in range(limit // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    response = await gateway.client.post(
        "/api/v1/help-requests", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_a_large_login_form_is_refused_too(gateway) -> None:
    limit = gateway.app.state.settings.max_body_bytes
    response = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "a", "password": "p" * limit}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2", b"\xff\xfe", b""])
async def test_malformed_json_is_a_problem_not_a_crash(gateway, raw: bytes) -> None:
    response = await gateway.client.post(
        "/api/v1/help-requests", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "broken",
    [
        lambda body: body.pop("customer"),
        lambda body: body["customer"].update(email="not an email"),
        lambda body: body["consent"].update(scopes=["view", "delete"]),
        lambda body: body["consent"].update(scopes=["view", "view"]),
        lambda body: body.update(description=""),
        lambda body: body["consent"].update(accepted="maybe"),
    ],
)
async def test_help_requests_that_do_not_fit_the_schema_are_422(gateway, broken) -> None:
    body = help_request()
    broken(body)
    response = await gateway.client.post("/api/v1/help-requests", content=json.dumps(body))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_a_help_request_without_consent_is_422(gateway) -> None:
    response = await gateway.client.post("/api/v1/help-requests", json=help_request(accepted=False))
    assert response.status_code == 422
    assert "consent" in response.json()["detail"]


async def test_every_answer_carries_the_security_headers(gateway) -> None:
    for response in (
        await gateway.client.get("/healthz"),
        await gateway.client.get("/api/v1/nothing-here"),
        await gateway.client.get("/api/v1/me"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"


async def test_unknown_routes_and_methods_are_problems(gateway) -> None:
    missing = await gateway.client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    wrong_method = await gateway.client.delete("/api/v1/terms")
    assert (wrong_method.status_code, wrong_method.headers["content-type"]) == (405, PROBLEM)


async def test_without_the_billing_service_the_price_list_is_a_503_problem(gateway) -> None:
    response = await gateway.client.get("/api/v1/price-list")
    assert (response.status_code, response.headers["content-type"]) == (503, PROBLEM)


@pytest.mark.parametrize("path", ["/api/v1/billing/records", "/api/v1/billing/records/r-1"])
async def test_billing_records_are_for_finance_and_admins_only(gateway, path: str) -> None:
    consultant = await gateway.staff_headers("carl", "consultant")
    supervisor = await gateway.staff_headers("sue", "supervisor")
    finance = await gateway.staff_headers("fin", "finance")
    admin = await gateway.staff_headers("ada", "admin")
    assert (await gateway.client.get(path)).status_code == 401
    for headers in (consultant, supervisor):
        refused = await gateway.client.get(path, headers=headers)
        assert (refused.status_code, refused.headers["content-type"]) == (403, PROBLEM)
    for headers in (finance, admin):  # let through; billing itself is not running in this test
        assert (await gateway.client.get(path, headers=headers)).status_code == 503


async def test_a_bad_billing_status_filter_is_422(gateway) -> None:
    finance = await gateway.staff_headers("fin", "finance")
    response = await gateway.client.get("/api/v1/billing/records?status=paid", headers=finance)
    assert response.status_code == 422


async def test_staff_routes_check_roles(gateway) -> None:
    finance = await gateway.staff_headers("fin", "finance")
    supervisor = await gateway.staff_headers("sue", "supervisor")
    assert (await gateway.client.get("/api/v1/queue", headers=finance)).status_code == 403
    assert (await gateway.client.post("/api/v1/sessions/x/claim", headers=supervisor)).status_code == 403
    assert (await gateway.client.get("/api/v1/sessions", headers=finance)).status_code == 403
    assert (await gateway.client.get("/api/v1/sessions/x", headers=finance)).status_code == 403
    assert (await gateway.client.get("/api/v1/sessions?status=lost", headers=supervisor)).status_code == 422


async def test_customer_routes_need_a_token(gateway) -> None:
    for method, path in (
        ("GET", "/api/v1/sessions/x"),
        ("GET", "/api/v1/sessions/x/consent-receipt"),
        ("POST", "/api/v1/sessions/x/terminate"),
    ):
        response = await gateway.client.request(method, path)
        assert (response.status_code, response.headers["content-type"]) == (401, PROBLEM)
        garbage = await gateway.client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert garbage.status_code == 401


async def test_staff_cannot_terminate_for_the_customer(gateway) -> None:
    supervisor = await gateway.staff_headers("sue", "supervisor")
    response = await gateway.client.post("/api/v1/sessions/x/terminate", headers=supervisor)
    assert response.status_code == 403
