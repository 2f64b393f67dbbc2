"""Fuzzing the gateway's OpenAPI schema with schemathesis: generated requests (valid and invalid) to every
operation, anonymous and as an admin, must never get a 5xx nor an answer that violates the schema.
The number of examples per operation is bounded so the suite stays fast (`FUZZ_EXAMPLES` raises it).
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from identities import PASSWORD, STAFF
from schemathesis.checks import not_a_server_error, response_schema_conformance

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = (not_a_server_error, response_schema_conformance)
BASE_URL: list[str] = []  # the module's gateway, set by the test


def _admin_token(gateway_url: str) -> str:
    response = httpx.post(f"{gateway_url}/api/v1/auth/token", data={"username": STAFF["admin"], "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _fuzz(operation, headers: dict[str, str], answered: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        response = case.call(base_url=BASE_URL[0], headers=headers, timeout=30)
        answered.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


def test_fuzzed_requests_get_no_server_error_and_no_schema_violation(system):
    schema = schemathesis.openapi.from_url(f"{system.gateway_url}/openapi.json")
    BASE_URL[:] = [system.gateway_url]
    token = _admin_token(system.gateway_url)
    failures, answered = [], []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        if operation.path == "/api/v1/auth/logout":
            continue  # fuzzing logout as admin would spend the admin token the other operations use
        for who, headers in (("anonymous", {}), ("admin", {"Authorization": f"Bearer {token}"})):
            try:
                _fuzz(operation, headers, answered)
            except Exception as failure:  # every operation is fuzzed; the failures are reported together
                failures.append(f"{who} {operation.method.upper()} {operation.path}: {failure}"[:1500])
    assert not failures, "\n\n".join(failures)
    # The fuzzer reached the gateway, and got past validation and authorization often enough to mean something.
    assert len(answered) >= 2 * len(operations) and any(200 <= status < 300 for status in answered)
