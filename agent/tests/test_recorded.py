"""Recording, disclosed in the agent (issue #19): when the gateway's `attached` says `"recording": true`, the window
says once what is recorded and where the customer replays, downloads or erases it, and the status line says
"recorded" just before the way to end, within 80 columns, in Bulgarian and English. An older gateway (no field) or
one that does not record: nothing is said or shown."""

from __future__ import annotations

import io
import re

import pytest

from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.status import StatusLine, describe, display_width

NOTICE_EN = ("This session is recorded: the terminal, your screen as the consultant sees it, the chat and the names of "
             "transferred files (not their contents, not your clipboard). You can replay, download or erase the "
             "recording from your session page in the browser.")


def _tty_stream() -> io.StringIO:
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))  # 80x24 assumed
    return stream


def _attached_message(**fields) -> dict:
    return {"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view", "control"],
            "consultant": "maria", **fields}


async def _attached(language: str = "en", stream=None, **fields) -> tuple[Agent, io.StringIO]:
    stream = stream if stream is not None else io.StringIO()
    agent = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(stream, Messages(language)))
    await agent._on_gateway(_attached_message(**fields))
    return agent, stream


def _status_lines(written: str, language: str = "en") -> list[str]:
    hotkey = Messages(language)("status.hotkey")
    return [line for line in written.splitlines() if line.endswith(hotkey)]


async def test_a_recorded_session_is_said_once_in_the_window_and_kept_on_the_status_line():
    agent, stream = await _attached(recording=True)
    written = stream.getvalue()
    assert NOTICE_EN + "\n" in written
    assert written.index("You allow the consultant") < written.index(NOTICE_EN)  # after what is allowed
    assert _status_lines(written)[-1].endswith("| recorded | to end press Q")
    assert agent.recorded is True
    await agent._on_gateway({"type": "peer_joined", "consultant": "maria"})
    await agent._on_gateway(_attached_message(recording=True, resume_token=None))  # a resume: nothing new to say
    written = stream.getvalue()
    assert written.count(NOTICE_EN) == 1
    assert _status_lines(written)[-1].endswith("| recorded | to end press Q")


@pytest.mark.parametrize("fields", [{}, {"recording": False}, {"recording": "true"}, {"recording": 1},
                                    {"recording": None}], ids=["absent", "false", "string", "number", "null"])
async def test_an_older_gateway_or_one_that_does_not_record_shows_nothing(fields):
    agent, stream = await _attached(**fields)
    written = stream.getvalue()
    assert "recorded" not in written and agent.recorded is False
    assert _status_lines(written)[-1].endswith("| may view, control | --:--:-- | to end press Q")


async def test_a_re_attach_to_a_gateway_that_does_not_record_takes_it_off_the_status_line():
    agent, stream = await _attached(recording=True)
    await agent._on_gateway(_attached_message(resume_token=None))  # another replica, of an older version
    assert agent.recorded is False
    assert "recorded" not in _status_lines(stream.getvalue())[-1]


async def test_in_bulgarian():
    agent, stream = await _attached("bg", recording=True)
    written = stream.getvalue()
    say = Messages("bg")
    assert say("recording.notice") + "\n" in written
    assert say("recording.notice").startswith("Тази сесия се записва")
    assert _status_lines(written, "bg")[-1].endswith("| записва се | за край натиснете Q")


@pytest.mark.parametrize("language", ["bg", "en"])
async def test_on_a_terminal_the_notice_is_wrapped_to_the_window_and_the_status_line_fits_80_columns(language):
    stream = _tty_stream()
    agent, _ = await _attached(language, stream=stream, recording=True)
    say = Messages(language)
    written = stream.getvalue()
    said = written[written.index(say("recording.notice").split()[0]):]
    said = said[:said.index("\x1b")]  # up to the next sequence (the status line's redraw)
    lines = [line for line in said.split("\r\n") if line]
    assert len(lines) > 1 and all(display_width(line) <= 79 for line in lines), lines
    assert " ".join(" ".join(lines).split()) == say("recording.notice")
    draws = re.findall(r"\x1b7\x1b\[24;1H\x1b\[0m\x1b\[2K\x1b\[7m(.*?)\x1b\[0m\x1b8", written)
    assert draws and all(display_width(line) <= 79 for line in draws)
    assert draws[-1].endswith(f"{say('status.recorded')} | {say('status.hotkey')}")


@pytest.mark.parametrize("language", ["bg", "en"])
@pytest.mark.parametrize("consultant", ["bob", "Мария Константинова-Петрова " * 8, "王小明" * 30],
                         ids=["short", "long", "wide"])
def test_recorded_fits_the_status_line_beside_everything_else_and_the_way_to_end_stays(language, consultant):
    say = Messages(language)
    crowd = ("Мария Константинова-Петрова " * 4, "sam")
    for width in (79, 60, 40, 20):
        for extras in ({}, {"request": {"control"}, "observers": crowd, "more_observers": 3, "chat": True}):
            line = describe(consultant=consultant, connected_since=0.0, scopes={"view", "control"}, now=3725.0,
                            state="state.connected", messages=say, width=width, recorded=True, **extras)
            assert display_width(line) <= width, (width, line)
            assert line.endswith(say("status.hotkey")), (width, line)
            # Narrower, what is left goes to the way to end (and to a waiting request's keys) first.
            if width == 79 or width >= 40 and not extras:
                assert f"{say('status.recorded')} | {say('status.hotkey')}" in line, (width, line)
    # At 80 columns the short facts stay with it: who helps and what they may do.
    line = describe(consultant="bob", connected_since=0.0, scopes={"view", "control"}, now=3725.0,
                    state="state.connected", messages=say, width=79, recorded=True)
    assert "bob" in line and f"{say('scope.view')}, {say('scope.control')}" in line
    assert say("status.recorded") not in describe(consultant="bob", connected_since=0.0, scopes={"view"}, now=1.0,
                                                  messages=say, width=79)
