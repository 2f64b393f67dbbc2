"""An observer, disclosed (issue #16): the gateway's `observers` list (supervisors watching, view only) is shown to
the customer from the moment someone joins: a bold line for each newcomer, a line for each who left, and the status
line while anyone watches. A malformed list changes nothing; an observer never widens the agent's gate."""

from __future__ import annotations

import asyncio
import io
import re

import pytest

from assist_agent import connection, framing, scopes
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.status import StatusLine, describe, display_width

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H"
JOINED = ("Supervisor sam is now watching your screen and terminal (view only: they cannot type or control).")
LEFT = "Supervisor sam stopped watching."


def _no_control_characters(text: str) -> bool:
    return not any(ord(char) < 0x20 and char != "\n" or 0x7F <= ord(char) <= 0x9F or char == "\u202e"
                   for char in text)


def _agent(language: str = "en", stream=None) -> tuple[Agent, io.StringIO]:
    stream = stream or io.StringIO()
    return Agent(gateway="http://127.0.0.1:1", code="123456789",
                 status=StatusLine(stream, Messages(language))), stream


async def _attached(language: str = "en", stream=None) -> tuple[Agent, io.StringIO]:
    agent, stream = _agent(language, stream)
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"],
                             "consultant": "maria"})
    await agent._on_gateway({"type": "peer_joined", "consultant": "maria"})
    return agent, stream


def _observers(*names) -> dict:
    return {"type": "observers", "observers": list(names)}


def _status_lines(written: str, language: str = "en") -> list[str]:
    """The status lines written (off a terminal, a line each): the shell opened at `peer_joined` may write between."""
    hotkey = Messages(language)("status.hotkey")
    return [line for line in written.splitlines() if line.endswith(hotkey)]


async def test_a_supervisor_joining_is_announced_and_shown_on_the_status_line_without_widening_anything():
    agent, stream = await _attached()
    await agent._on_gateway(_observers("sam"))
    written = stream.getvalue()
    assert JOINED + "\n" in written
    assert "watched by: sam | to end press Q" in _status_lines(written)[-1]
    assert agent.observers == ("sam",)
    # The observer gets no scope at the agent: the gate is as it was.
    assert agent.scopes == frozenset({"view"}) == agent.channels.scopes
    assert scopes.refusal(framing.INPUT, agent.channels.scopes)
    await agent._on_gateway(_observers("sam"))  # told again (a re-attach): nothing new to say
    assert stream.getvalue().count(JOINED) == 1


async def test_on_a_terminal_the_announcement_is_bold():
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))
    agent, _ = await _attached(stream=stream)
    await agent._on_gateway(_observers("sam"))
    await agent._on_gateway(_observers())
    written = stream.getvalue()
    assert f"\x1b[1m{JOINED}\x1b[0m" in written
    assert LEFT in written and f"\x1b[1m{LEFT}" not in written  # who left: a plain line


async def test_a_supervisor_leaving_is_announced_and_the_status_line_cleared():
    agent, stream = await _attached()
    await agent._on_gateway(_observers("sam", "ann"))
    await agent._on_gateway(_observers("ann"))
    written = stream.getvalue()
    assert LEFT + "\n" in written and "Supervisor ann stopped watching." not in written
    assert "watched by: ann | to end press Q" in _status_lines(written)[-1]
    await agent._on_gateway(_observers())
    written = stream.getvalue()
    assert "Supervisor ann stopped watching.\n" in written
    assert "watched by" not in _status_lines(written)[-1]
    assert agent.observers == () and agent.scopes == frozenset({"view"})


@pytest.mark.parametrize("malformed", [
    {"type": "observers"}, {"type": "observers", "observers": "sam"}, {"type": "observers", "observers": None},
    {"type": "observers", "observers": {"sam": 1}}, {"type": "observers", "observers": ["ann", 7]},
    {"type": "observers", "observers": [["ann"]]}, {"type": "observers", "observers": [None]},
])
async def test_a_malformed_list_is_ignored_and_changes_nothing(malformed, caplog):
    agent, stream = await _attached()
    await agent._on_gateway(_observers("sam"))
    before = stream.getvalue()
    await agent._on_gateway(malformed)
    assert agent.observers == ("sam",) and stream.getvalue() == before
    assert "ignored a malformed observers message" in caplog.text


async def test_names_are_made_safe_and_the_list_is_capped():
    agent, stream = await _attached()
    await agent._on_gateway(_observers("sam" + ESCAPES + "\r\n\u202e\x9b31m", "x" * 10_000))
    written = stream.getvalue()
    assert JOINED.replace("sam", "sam ?") in written  # sequences removed whole, a line break made a space
    assert _no_control_characters(written)
    assert max(len(name) for name in agent.observers) == connection.OBSERVER_NAME_LIMIT
    crowd = [f"supervisor{index}" for index in range(1000)]
    await agent._on_gateway(_observers(*crowd))
    assert agent.observers == tuple(crowd[:connection.OBSERVERS_SHOWN]) and agent.more_observers == 980
    assert stream.getvalue().count("is now watching") == 2 + connection.OBSERVERS_SHOWN
    assert "(+980) | to end press Q" in _status_lines(stream.getvalue())[-1]


async def test_after_a_re_attach_without_a_list_nobody_watches_any_more(monkeypatch):
    monkeypatch.setattr(connection, "OBSERVERS_CONFIRM_SECONDS", 0.01)
    agent, stream = await _attached()
    await agent._on_gateway(_observers("sam"))
    resumed = {"type": "attached", "session_id": "A", "scopes": ["view"]}
    await agent._on_gateway(resumed)
    await agent._on_gateway(_observers("sam"))  # still watching: the gateway says so again, nothing to say
    await asyncio.sleep(0.05)
    assert agent.observers == ("sam",) and LEFT not in stream.getvalue()
    await agent._on_gateway(resumed)  # no list follows: sam has gone meanwhile
    assert agent.observers == ("sam",)  # shown until then
    await asyncio.sleep(0.05)
    assert agent.observers == () and LEFT in stream.getvalue()


async def test_in_bulgarian():
    agent, stream = await _attached("bg")
    await agent._on_gateway(_observers("sam"))
    assert "наблюдава: sam | за край натиснете Q" in _status_lines(stream.getvalue(), "bg")[-1]
    await agent._on_gateway(_observers("sam", "ann"))
    assert "наблюдават: sam, ann | за край натиснете Q" in _status_lines(stream.getvalue(), "bg")[-1]
    await agent._on_gateway(_observers("ann"))
    written = stream.getvalue()
    for line in ("Супервайзорът sam вече наблюдава екрана и терминала ви (само преглед: не може да пише и да "
                 "управлява).",
                 "Супервайзорът ann вече наблюдава екрана и терминала ви (само преглед: не може да пише и да "
                 "управлява).",
                 "Супервайзорът sam спря да наблюдава."):
        assert line + "\n" in written, line


@pytest.mark.parametrize("language", ["bg", "en"])
def test_who_watches_fits_the_status_line_and_the_way_to_end_stays(language):
    say = Messages(language)
    crowd = ("Мария Константинова-Петрова " * 4, "sam")
    for request in (None, {"control"}):
        for width in (79, 60, 40, 20):
            line = describe(consultant="maria", connected_since=0.0, scopes={"view"}, now=5.0, messages=say,
                            width=width, request=request, observers=crowd, more_observers=3)
            assert display_width(line) <= width and line.endswith(say("status.hotkey")), (width, line)
        line = describe(consultant="maria", connected_since=0.0, scopes={"view"}, now=5.0, messages=say, width=79,
                        request=request, observers=crowd)
        assert re.search(say("status.watched.many", who="") + r"М[^|]*…", line), line  # the names cut, not the words
    line = describe(consultant="maria", connected_since=0.0, scopes={"view"}, now=5.0, messages=say, width=79,
                    observers=("sam",))
    assert "maria" in line and say("status.watched", who="sam") in line and display_width(line) <= 79
