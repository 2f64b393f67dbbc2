"""RFC 9457 problem details: one error shape for every HTTP answer and every command reply."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A failure the caller can act on; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Problem:
        extra = {k: v for k, v in body.items() if k not in {"type", "title", "status", "detail"}}
        return cls(int(body.get("status", 500)), body.get("title", "Error"), body.get("detail", ""), **extra)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    # A problem that says when to come back (`retry_after`, seconds: a 429 or 503 of any service, carried
    # through command replies as a member of the body) also says it in the standard header.
    retry_after = problem.extra.get("retry_after")
    if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after > 0:
        headers = {"Retry-After": str(retry_after), **(headers or {})}
    return JSONResponse(problem.to_dict(), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


# Pydantic's own wording where it would name a model class or say little to a customer; the others read well.
_PLAIN_MESSAGES = {
    "missing": "is required",
    "bool_type": "must be a JSON boolean (true or false)",
    "bool_parsing": "must be a JSON boolean (true or false)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dataclass_type": "must be a JSON object",
    "extra_forbidden": "is not a field of this request",
    "json_invalid": "is not valid JSON",
    "json_type": "must be JSON",
}
# Where the error sits in FastAPI's locations: the body is the usual place and goes unnamed.
_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header", "cookie": "cookie"}


def _field_path(loc: Iterable[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    elif parts and parts[0] in _PLACES:
        return f"{_PLACES[parts[0]]} {'.'.join(parts[1:])}".strip()
    return ".".join(parts) or "the request body"


def _plain_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[kind]
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]


# The limits a 422's reader may need ("at most 200 characters"): numbers only, never the input or an object.
_LIMITS = ("min_length", "max_length", "ge", "gt", "le", "lt")


def _limits(error: Mapping[str, Any]) -> dict[str, int | float]:
    context = error.get("ctx")
    if not isinstance(context, Mapping):
        return {}
    return {key: context[key] for key in _LIMITS
            if isinstance(context.get(key), int | float) and not isinstance(context.get(key), bool)}


def invalid_input_problem(errors: Iterable[Mapping[str, Any]], *, title: str = "Invalid request") -> Problem:
    """A 422 naming each wrong field in words a customer can read: never a model class, never the input echoed.

    `errors` are pydantic's (or FastAPI's, whose locations start with `body`, `query`, ...). The detail lists
    the first few as `field: problem`; `errors` lists them all with their `field` path, pydantic's error `type`
    and the numeric limits of the rule (`max_length`, ...), from which a reader's language can be told.
    """
    listed = [
        {"field": _field_path(error.get("loc", ())), "problem": _plain_message(error),
         "loc": [str(part) for part in error.get("loc", ())], "type": str(error.get("type", "")), **_limits(error)}
        for error in errors
    ]
    shown = [f"{item['field']}: {item['problem']}" for item in listed[:5]]
    more = f" (and {len(listed) - 5} more)" if len(listed) > 5 else ""
    detail = "; ".join(shown) + more if shown else "The request is not valid."
    return Problem(422, title, detail, errors=listed)


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    501: "Not implemented",
    503: "Service unavailable",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the app as problem+json, including FastAPI's own 404, 405 and 422."""

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else ""
        return problem_response(Problem(exc.status_code, title, detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _data(_request: Request, _exc: DataError) -> JSONResponse:
        # The database refused a value that passed validation (a NUL byte in a string, say): bad input, not a 500.
        return problem_response(Problem(422, "Invalid request", "A value in the request cannot be stored or searched."))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_away(_request: Request, exc: Exception) -> JSONResponse:
        # The database did not answer: restarting, unreachable, out of connections, or a lock that did not come
        # free. Nothing was half done (the transaction rolled back), so the caller may simply try again.
        log.warning("database unavailable: %s", str(exc).splitlines()[0][:300])
        return problem_response(Problem(503, "Service unavailable",
                                        "The database cannot be reached right now; try again shortly.",
                                        retry_after=1))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid_input_problem(exc.errors()))
