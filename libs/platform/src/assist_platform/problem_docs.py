"""Problem details in the OpenAPI document: one `Problem` schema, and the error responses a route declares.

Every error an app answers is RFC 9457 `application/problem+json` (problems.py). A route declares the statuses it
can answer with `responses=problem_responses(401, 403, 404)`; `document_problems(app)` puts the `Problem` schema in
the document once, adds the statuses a middleware answers for every operation (413 where there is a body, 431 for
all, ...), and replaces FastAPI's own 422 (`HTTPValidationError`), which no route answers: a 422 is a problem too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from .problems import PROBLEM_JSON

SCHEMAS = "#/components/schemas/"


class FieldError(BaseModel):
    """One wrong field of a 422 (problems.invalid_input_problem): where, what is wrong, and the rule's limits."""

    model_config = ConfigDict(extra="allow")

    field: str
    problem: str
    loc: list[str]
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every service answers them; extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="always about:blank: the status says what kind of problem")
    title: str
    status: int = Field(ge=400, le=599)
    # Members that are absent when they do not apply (never null on the wire).
    detail: str | None = Field(None, description="what went wrong, for a person (absent when the title says it all)")
    code: str | None = Field(None, description="a machine-readable reason, where the client may act on it")
    retry_after: int | None = Field(None, description="seconds to wait before trying again (also Retry-After)")
    errors: list[FieldError] | None = Field(None, description="each wrong field of a 422")


# What each status means in this API, and the headers that always come with it.
_MEANINGS: dict[int, str] = {
    400: "The request is malformed.",
    401: "Not authenticated: no valid credential was sent.",
    403: "Authenticated, but not allowed to do this (or a cookie-authenticated change without its CSRF header).",
    404: "Not found.",
    409: "Conflicts with the current state.",
    410: "Gone: it no longer exists.",
    413: "Too large (the request body, or an answer that would be).",
    422: "A value of the request is not valid; `errors` names each wrong field.",
    429: "Too many requests; Retry-After says when to try again.",
    431: "The request line and headers are too large.",
    503: "A service the answer needs is unavailable right now; try again shortly.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds", "required": True, "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds, when known", "schema": {"type": "string"}}},
}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """The OpenAPI response object of one problem status."""
    response: dict[str, Any] = {
        "description": description or _MEANINGS.get(status, "A problem."),
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"{SCHEMAS}Problem"}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these problem statuses (`s409="..."` words one of them)."""
    return {status: problem_response(status, descriptions.get(f"s{status}")) for status in statuses}


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}


def _uses(document: Any, reference: str) -> bool:
    if isinstance(document, dict):
        return document.get("$ref") == reference or any(_uses(value, reference) for value in document.values())
    if isinstance(document, list):
        return any(_uses(value, reference) for value in document)
    return False


def document_problems(
    app: FastAPI, *, every_operation: Iterable[int] = (), with_body: Iterable[int] = ()
) -> None:
    """The app's document, built once: the `Problem` schema, `every_operation` statuses on every operation and
    `with_body` on those that take a request body (both: what middleware answers before any route), and FastAPI's
    422 as the problem it is (problems.install_problem_handlers answers it so)."""
    every_operation, with_body = tuple(every_operation), tuple(with_body)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes, tags=app.openapi_tags, servers=app.servers,
            )
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    fastapi_422 = operation["responses"].get("422", {})
                    if _uses(fastapi_422, SCHEMAS + "HTTPValidationError"):
                        # FastAPI's own entry for its validation: this app answers it as a problem.
                        operation["responses"]["422"] = problem_response(422)
                    added = every_operation + (with_body if "requestBody" in operation else ())
                    for status in added:
                        operation["responses"].setdefault(str(status), problem_response(status))
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(_problem_schemas())
            if not _uses(document["paths"], SCHEMAS + "HTTPValidationError"):
                schemas.pop("HTTPValidationError", None)
                schemas.pop("ValidationError", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
