"""A spec types both ends of a command over a real nats-server, and keeps the platform's error semantics: the
owner's problem passed through, 503 when nobody answers, and the owner's own 422 for input that breaks its rules."""

from __future__ import annotations

from datetime import UTC, datetime

import nats
import pytest
from assist_contract import consent
from assist_contract.consent import RevokeInput
from assist_contract.spec import CommandSpec, EventSpec
from assist_platform.commands import call_command, serve_command
from assist_platform.envelope import new_event
from assist_platform.problems import Problem
from pydantic import AwareDatetime, BaseModel, ValidationError


class Shout(BaseModel):
    word: str


class Echo(BaseModel):
    word: str
    length: int


shout = CommandSpec("cmd.test.shout", Shout, Echo)


async def _serve(nc, command) -> None:
    await serve_command(nc, subject=command.subject, input_model=command.input_model, handler=command.handler,
                        queue="test", concurrent=command.concurrent)


async def _shouted(request: Shout) -> dict:
    if request.word == "nobody":
        raise Problem(404, "Not found", "Nobody to shout at.", code="nobody")
    # More than the output model says: the spec sends only what the contract promises.
    return {"word": request.word.upper(), "length": len(request.word), "internal": "not for callers"}


async def test_a_typed_call_gets_the_output_model_shaped_by_the_owner(nats_url):
    nc = await nats.connect(nats_url)
    await _serve(nc, shout.serve(_shouted))
    assert await shout(nc, Shout(word="здравей"), timeout=2) == Echo(word="ЗДРАВЕЙ", length=7)
    raw = await call_command(nc, shout.subject, {"word": "ok"}, timeout=2)
    assert raw == {"word": "OK", "length": 2}
    with pytest.raises(Problem) as missing:
        await shout(nc, {"word": "nobody"}, timeout=2)
    assert (missing.value.status, missing.value.extra["code"]) == (404, "nobody")
    await nc.close()


async def test_an_owner_that_answers_outside_its_output_model_is_a_500_not_the_callers_422(nats_url):
    nc = await nats.connect(nats_url)

    async def broken(request: Shout) -> dict:
        return {"word": request.word}  # no length

    await _serve(nc, CommandSpec("cmd.test.broken", Shout, Echo).serve(broken))
    with pytest.raises(Problem) as failed:
        await CommandSpec("cmd.test.broken", Shout, Echo)(nc, {"word": "x"}, timeout=2)
    assert failed.value.status == 500
    await nc.close()


async def test_a_command_nobody_serves_is_a_503_at_once(nats_url):
    nc = await nats.connect(nats_url)
    with pytest.raises(Problem) as unavailable:
        await consent.get(nc, {"session_id": "s-1"}, timeout=2)
    assert unavailable.value.status == 503
    await nc.close()


async def test_input_that_breaks_the_rules_is_the_owners_own_422_without_a_round_trip(nats_url):
    """The same problem, field for field, whether the caller or the owner validates: the gateway's words for
    `scopes_required` and `scope_unknown` keep working."""
    nc = await nats.connect(nats_url)

    async def never(_request):
        raise AssertionError("an invalid grant never reaches the owner")

    await _serve(nc, consent.grant.serve(never))
    grant = {"session_id": "s-1", "customer": {"name": "Мария", "email": "m@example.bg"}, "terms_version": "1",
             "scopes": []}
    for scopes, kind in (([], "scopes_required"), (["view", "sing"], "scope_unknown")):
        with pytest.raises(Problem) as at_owner:
            await call_command(nc, consent.grant.subject, {**grant, "scopes": scopes}, timeout=2)
        with pytest.raises(Problem) as at_caller:
            await consent.grant(nc, {**grant, "scopes": scopes}, timeout=2)
        assert at_caller.value.to_dict() == at_owner.value.to_dict()
        assert (at_caller.value.status, at_caller.value.title) == (422, "Invalid command")
        assert [error["type"] for error in at_caller.value.extra["errors"]] == [kind]
    await nc.close()


def test_an_input_model_built_by_the_caller_keeps_the_rules():
    with pytest.raises(ValidationError):
        RevokeInput(session_id="s-1", reason="bored")
    assert RevokeInput(session_id=" s-1 ", reason="admin").session_id == "s-1"


class Rang(BaseModel):
    session_id: str
    times: int


rang = EventSpec("test.rang", "TEST", Rang)


def test_an_event_is_checked_where_it_is_published_and_read_by_its_model():
    event = rang.new(source="test", subject="s-1", data={"session_id": "s-1", "times": 3, "extra": True})
    assert (event.type, event.data["extra"]) == ("test.rang", True)  # data goes out as written
    assert rang.parse(event) == Rang(session_id="s-1", times=3)
    with pytest.raises(ValidationError):
        rang.new(source="test", subject="s-1", data={"session_id": "s-1"})
    with pytest.raises(ValidationError):
        rang.parse(new_event(source="test", type="test.rang", subject="s-1", data={"times": "many"}))


class Stamped(BaseModel):
    session_id: str
    at: AwareDatetime
    note: str | None = None


stamped = EventSpec("test.stamped", "TEST", Stamped)


def test_an_event_from_a_records_fields_carries_what_its_model_names_with_times_on_the_wire():
    row = {"session_id": "s-1", "at": datetime(2026, 11, 29, 10, 0, 5, tzinfo=UTC), "secret": "x", "note": None}
    event = stamped.from_fields(source="test", subject="s-1", fields=row)
    assert event.data == {"session_id": "s-1", "at": "2026-11-29T10:00:05Z", "note": None}  # nothing else
    # A field the model needs that the record lacks fails where it is published.
    with pytest.raises(ValidationError):
        stamped.from_fields(source="test", subject="s-1", fields={"session_id": "s-1"})


def test_every_command_of_the_contract_types_its_input_and_its_output() -> None:
    from assist_contract import billing, gateway, session

    specs = [value for module in (consent, session, billing, gateway) for value in vars(module).values()
             if isinstance(value, CommandSpec)]
    assert len(specs) >= 30
    for spec in specs:
        assert issubclass(spec.input, BaseModel) and issubclass(spec.output, BaseModel), spec.subject
