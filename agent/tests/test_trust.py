"""What the agent takes from outside: its session from the first `attached` only, and text for the customer's
terminal without the control characters a terminal would act on (issue #12)."""

from __future__ import annotations

import io
import logging
import re

import pytest

from assist_agent import framing, scopes
from assist_agent.cli import PrintableFormatter
from assist_agent.connection import Agent
from assist_agent.status import StatusLine, describe
from assist_agent.terminal_text import printable

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1HYour Bank's Security Team\r\n\x9b31m\u202e\x7f"


def _no_control_characters(text: str) -> bool:
    return not any(ord(char) < 0x20 and char != "\n" or 0x7F <= ord(char) <= 0x9F or char == "\u202e"
                   for char in text)


def test_printable_shows_every_control_character_as_a_question_mark_and_keeps_the_rest():
    assert printable("maria") == "maria"
    assert printable("Мария Петрова") == "Мария Петрова"
    shown = printable(ESCAPES)
    assert _no_control_characters(shown) and "Your Bank's Security Team" in shown
    assert shown.startswith("?]0;pwned??[2J")
    assert len(printable("x" * 10_000)) == 200


def test_the_status_line_never_writes_a_consultants_escape_sequences_raw():
    line = describe(consultant=ESCAPES, connected_since=None, scopes={"view"}, now=0, state=ESCAPES)
    assert _no_control_characters(line)
    for tty in (False, True):
        stream = io.StringIO()
        stream.isatty = lambda tty=tty: tty
        status = StatusLine(stream)
        status.show(consultant=ESCAPES, connected_since=None, scopes={"view"}, state="connected")
        status.say(f"Session ended: {ESCAPES}")
        written = stream.getvalue()
        if tty:  # the status line's own layout (scroll region, redraw in place) is the only escape sequence left
            written = re.sub(r"\x1b(\[[0-9;]*[rHKmA]|[78])|\r", "", written)
        assert _no_control_characters(written), repr(written)
        assert "Session ended: ?]0;pwned" in written


def test_log_lines_quoting_outside_text_are_printable():
    record = logging.LogRecord("assist_agent.connection", logging.WARNING, __file__, 1,
                               "connection lost (%s); reconnecting", (ESCAPES,), None)
    line = PrintableFormatter("%(levelname)s %(message)s").format(record)
    assert _no_control_characters(line) and "connection lost (?]0;pwned" in line


@pytest.fixture
def agent():
    return Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(io.StringIO()))


async def test_the_agent_keeps_the_session_and_token_of_its_first_attached(agent):
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "token-of-A", "scopes": []})
    assert (agent.session_id, agent.resume_token) == ("A", "token-of-A")
    # A forged `attached` naming the attacker's session B and its token changes nothing.
    await agent._on_gateway({"type": "attached", "session_id": "B", "resume_token": "token-of-B",
                             "consultant": "Your Bank's Security Team", "scopes": ["view", "control"]})
    assert (agent.session_id, agent.resume_token) == ("A", "token-of-A")
    assert agent.consultant is None and agent.scopes == frozenset()
    # Nor does one for our session with another token.
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "token-of-B", "scopes": []})
    assert agent.resume_token == "token-of-A"
    # The gateway's own attach after a resume names our session and brings no token: taken as it is.
    await agent._on_gateway({"type": "attached", "session_id": "A", "resumed": True, "consultant": "maria",
                             "scopes": []})
    assert (agent.session_id, agent.resume_token, agent.consultant) == ("A", "token-of-A", "maria")


async def test_a_scopes_message_only_ever_narrows_what_the_agent_allows(agent):
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"]})
    # Nothing can widen the consent the agent attached with: `control` stays refused.
    await agent._on_gateway({"type": "scopes", "scopes": ["view", "control"]})
    assert agent.scopes == frozenset({"view"}) and agent.channels.scopes == frozenset({"view"})
    assert scopes.refusal(framing.INPUT, agent.channels.scopes) is not None


async def test_control_taken_back_stops_the_agent_acting_on_keystrokes_and_input(agent):
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t",
                             "scopes": ["view", "control"]})
    assert scopes.refusal(framing.INPUT, agent.channels.scopes) is None
    await agent._on_gateway({"type": "scopes", "scopes": ["view"]})
    assert agent.scopes == frozenset({"view"})
    for channel in (framing.TERMINAL, framing.INPUT):
        assert scopes.refusal(channel, agent.channels.scopes) == "the customer's consent allows viewing only"
    await agent._on_gateway({"type": "scopes", "scopes": "control"})  # malformed: leaves nothing to act on
    assert agent.scopes == frozenset()


async def test_the_c_key_narrows_the_agent_at_once_before_any_answer_from_the_gateway(agent):
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t",
                             "scopes": ["view", "control"]})
    agent.take_back_control()  # from the key thread, with no connection at all
    assert agent.scopes == frozenset({"view"}) and agent.channels.scopes == frozenset({"view"})
    assert scopes.refusal(framing.TERMINAL, agent.channels.scopes) is not None
    agent.take_back_control()  # nothing more to take back
    assert agent.scopes == frozenset({"view"})
