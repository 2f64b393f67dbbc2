"""Commands: the owner's problem travels back to the caller; silence and bad input are clear errors."""

from __future__ import annotations

import nats
import pytest
from assist_platform.commands import call_command, serve_command
from assist_platform.problems import Problem
from pydantic import BaseModel


class Greeting(BaseModel):
    name: str


async def greet(request: Greeting) -> dict:
    if request.name == "nobody":
        raise Problem(404, "Not found", "There is nobody of that name.")
    return {"greeting": f"Здравей, {request.name}"}


async def test_a_command_answers_its_result_or_the_owners_problem(nats_url):
    nc = await nats.connect(nats_url)
    await serve_command(nc, subject="cmd.test.greet", input_model=Greeting, handler=greet, queue="test")
    assert await call_command(nc, "cmd.test.greet", {"name": "Мария"}, timeout=2) == {"greeting": "Здравей, Мария"}
    with pytest.raises(Problem) as missing:
        await call_command(nc, "cmd.test.greet", Greeting(name="nobody"), timeout=2)
    assert missing.value.status == 404 and "nobody" in missing.value.detail
    with pytest.raises(Problem) as invalid:
        await call_command(nc, "cmd.test.greet", {"nom": 1}, timeout=2)
    assert invalid.value.status == 422
    await nc.close()


async def test_a_command_nobody_serves_is_a_503_at_once(nats_url):
    nc = await nats.connect(nats_url)
    with pytest.raises(Problem) as unavailable:
        await call_command(nc, "cmd.nobody.home", {}, timeout=2)
    assert unavailable.value.status == 503
    await nc.close()
    with pytest.raises(Problem) as closed:
        await call_command(nc, "cmd.test.greet", {"name": "x"}, timeout=2)
    assert closed.value.status == 503


async def test_an_invalid_command_names_the_wrong_field_and_never_the_input_model(nats_url):
    nc = await nats.connect(nats_url)
    await serve_command(nc, subject="cmd.test.greet2", input_model=Greeting, handler=greet, queue="test")
    with pytest.raises(Problem) as invalid:
        await call_command(nc, "cmd.test.greet2", {"name": 5}, timeout=2)
    await nc.close()
    problem = invalid.value
    assert (problem.status, problem.title) == (422, "Invalid command")
    assert problem.detail == "name: must be a string"
    assert [error["field"] for error in problem.extra["errors"]] == ["name"]
    text = str(problem.to_dict())
    assert "Greeting" not in text and "validation error for" not in text
