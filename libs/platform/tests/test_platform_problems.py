"""Problems: a 422 names each wrong field in words a customer can read; a problem with `retry_after` says it in
the Retry-After header; a database that does not answer is a 503 to try again, never a bare 500."""

from __future__ import annotations

import httpx
from assist_platform.db import Database
from assist_platform.ports import free_port
from assist_platform.problems import Problem, install_problem_handlers, invalid_input_problem
from fastapi import FastAPI
from pydantic import BaseModel, StrictBool
from sqlalchemy import text


class Inner(BaseModel):
    accepted: StrictBool


class Outer(BaseModel):
    inner: Inner
    count: int


def app() -> FastAPI:
    application = FastAPI()
    install_problem_handlers(application)

    @application.post("/things")
    async def things(body: Outer) -> dict:
        return {}

    @application.get("/busy")
    async def busy() -> dict:
        raise Problem(429, "Too many requests", "Later.", retry_after=42)

    return application


async def test_a_request_validation_error_names_the_fields_and_no_model():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test") as client:
        response = await client.post("/things", json={"inner": {"accepted": "yes"}, "count": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == "inner.accepted: must be a JSON boolean (true or false); count: must be a whole number"
    assert [error["field"] for error in body["errors"]] == ["inner.accepted", "count"]
    assert "Outer" not in response.text and "Inner" not in response.text and "validation error" not in response.text


async def test_a_body_of_the_wrong_shape_is_named_without_its_model():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test") as client:
        response = await client.post("/things", json={"inner": [], "count": 1})
    assert response.json()["detail"] == "inner: must be a JSON object"
    assert "Inner" not in response.text


async def test_a_problem_with_retry_after_sends_the_header():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test") as client:
        response = await client.get("/busy")
    assert response.status_code == 429 and response.headers["retry-after"] == "42"
    assert response.json()["retry_after"] == 42


def test_query_and_path_errors_say_where_they_are():
    problem = invalid_input_problem([{"loc": ("query", "lang"), "msg": "Input should be 'bg' or 'en'",
                                      "type": "literal_error"}])
    assert problem.detail == "query parameter lang: input should be 'bg' or 'en'"


async def test_a_database_that_cannot_be_reached_is_a_503_to_try_again_not_a_500():
    # A real PostgreSQL client against a port where nothing listens: what a restart or a full connection table
    # looks like to a request.
    database = Database(url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere", schema="public")
    application = FastAPI()
    install_problem_handlers(application)

    @application.get("/reads")
    async def reads() -> dict:
        async with database.session() as db:
            await db.exec(text("SELECT 1"))
        return {}

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://test") as client:
            response = await client.get("/reads")
    finally:
        await database.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "The database cannot be reached right now; try again shortly."
