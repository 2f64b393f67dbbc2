"""The gateway's OpenAPI document declares what every operation answers: a 2xx with a schema or media type, and
each error as problem+json (the live gateway is fuzzed against it in tests/security/test_openapi_fuzzing.py).
"""

from __future__ import annotations

import jsonschema
import pytest
from assist_gateway.main import API_PREFIX, create_app
from assist_gateway.settings import Settings
from assist_platform.problems import PROBLEM_JSON, Problem, invalid_input_problem
from fastapi.routing import APIRoute

# The one error answer that is not a problem: /readyz's 503 is its readiness report, for the orchestrator.
NOT_PROBLEMS = {("get", "/readyz", "503")}


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(api_docs=True, environment="test"))


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.openapi()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_every_operation_declares_a_success_with_a_schema_or_a_media_type(document):
    for method, path, operation in operations(document):
        successes = {status: response for status, response in operation["responses"].items()
                     if status.startswith("2")}
        assert successes, f"{method} {path} declares no 2xx"
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response, f"{method} {path}: a 204 has no body"
                continue
            content = response.get("content")
            assert content, f"{method} {path} {status} declares no content"
            for media_type, body in content.items():
                schema = body.get("schema")
                assert schema, f"{method} {path} {status} {media_type} has no schema"
                if media_type == "application/json":
                    # A JSON answer names its shape: a model, not FastAPI's "any object" of a `-> dict` route.
                    assert "$ref" in schema or "properties" in schema, f"{method} {path} {status}: {schema}"


def test_every_declared_error_is_problem_json(document):
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (method, path, status) in NOT_PROBLEMS:
                continue
            assert list(response.get("content", {})) == [PROBLEM_JSON], f"{method} {path} {status}: {response}"
            assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_fastapis_validation_error_schema_is_gone_and_every_422_is_a_problem(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    for method, path, operation in operations(document):
        if operation.get("parameters") or "requestBody" in operation:
            assert "422" in operation["responses"], f"{method} {path} takes input but declares no 422"


def test_what_the_edge_answers_for_any_route_is_on_every_operation(document):
    for method, path, operation in operations(document):
        assert "431" in operation["responses"], f"{method} {path}"
        if "requestBody" in operation:
            assert {"400", "413"} <= set(operation["responses"]), f"{method} {path}"


def test_routes_that_authenticate_declare_401_and_routes_that_throttle_declare_429(document):
    throttled = {("post", f"{API_PREFIX}/auth/token"), ("post", f"{API_PREFIX}/help-requests")}
    for method, path, operation in operations(document):
        if operation.get("security"):
            assert "401" in operation["responses"], f"{method} {path}"
        if (method, path) in throttled:
            assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_every_api_route_is_in_the_document(app, document):
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith(API_PREFIX):
            assert route.include_in_schema and route.path in document["paths"], route.path


@pytest.mark.parametrize("problem", [
    Problem(404, "Not found"),
    Problem(409, "Conflict", "Terms version 1 is not the current one.", code="terms_version_not_current",
            current_version="2026-01-01"),
    Problem(429, "Too many requests", "Try again in 5 seconds.", retry_after=5, code="help_requests_throttled"),
    invalid_input_problem([{"loc": ("body", "customer", "name"), "type": "string_too_long", "msg": "too long",
                            "ctx": {"max_length": 200}}]),
], ids=["bare", "with-members", "throttled", "invalid-input"])
def test_the_problem_schema_describes_what_the_platform_answers(document, problem):
    # The document as the root, so that the schema's references (#/components/schemas/...) resolve.
    schema = {"components": document["components"], "$ref": "#/components/schemas/Problem"}
    jsonschema.Draft202012Validator(schema).validate(problem.to_dict())
