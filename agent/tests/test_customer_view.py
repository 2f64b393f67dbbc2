"""What the customer sees and when the agent stops (issue #13): language, one status line in 80 columns, the
shared shell mirrored without sequences that could leave its rows, the ending of every close code, and a gateway
that attaches and drops at once counting as a failed reconnect."""

from __future__ import annotations

import asyncio
import io
import re
import string
import time

import pytest
import websockets

from assist_agent import endings
from assist_agent.connection import Agent
from assist_agent.messages import CATALOGUE, Messages, pick_language
from assist_agent.status import ShellOutputFilter, StatusLine, describe, display_width


def test_every_message_exists_in_every_language_with_the_same_placeholders():
    keys = {language: set(texts) for language, texts in CATALOGUE.items()}
    assert keys["bg"] == keys["en"]
    for key in keys["en"]:
        fields = {language: {name for _, name, _, _ in string.Formatter().parse(CATALOGUE[language][key]) if name}
                  for language in CATALOGUE}
        assert fields["bg"] == fields["en"], key


def test_bulgarian_unless_english_is_asked_for():
    assert pick_language(None, {}) == "bg"
    assert pick_language(None, {"LANG": "bg_BG.UTF-8"}) == "bg"
    assert pick_language(None, {"LANG": "en_GB.UTF-8"}) == "en"
    assert pick_language(None, {"LC_ALL": "en_US.UTF-8", "LANG": "bg_BG.UTF-8"}) == "en"
    assert pick_language(None, {"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8"}) == "bg"
    assert pick_language("en", {"LANG": "bg_BG.UTF-8"}) == "en"


@pytest.mark.parametrize("language", ["bg", "en"])
@pytest.mark.parametrize("consultant", ["bob", "Мария Константинова-Петрова " * 8, "王小明" * 30])
def test_the_status_line_fits_80_columns_and_always_says_how_to_end(language, consultant):
    say = Messages(language)
    line = describe(consultant=consultant, connected_since=0.0, scopes={"view", "control"}, now=3725.0,
                    state="state.connected", messages=say, width=79)
    assert display_width(line) <= 79
    assert line.endswith(say("status.hotkey"))
    if consultant == "bob":
        assert "bob" in line and f"{say('scope.view')}, {say('scope.control')}" in line
        assert "01:02:05" in line or language == "bg"  # the clock is the first to go in a narrow window


def _tty_stream(cols: int = 80, rows: int = 24):
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))  # 80x24 assumed
    return stream


def test_on_a_terminal_the_status_is_redrawn_on_the_bottom_row_below_a_scroll_region():
    stream = _tty_stream()
    status = StatusLine(stream, Messages("bg"))
    for _ in range(3):
        status.show(consultant="bob", connected_since=time.monotonic(), scopes={"view"}, state="state.connected")
    written = stream.getvalue()
    assert written.count("\x1b[1;23r") == 1  # the shell's rows: 1..23, set once
    draws = re.findall(r"\x1b7\x1b\[24;1H\x1b\[0m\x1b\[2K\x1b\[7m(.*?)\x1b\[0m\x1b8", written)
    assert len(draws) == 3 and all(display_width(line) <= 79 and "\n" not in line for line in draws)
    assert draws[0].endswith("за край натиснете Q")


def test_the_shell_output_keeps_text_and_colours_and_drops_what_could_leave_the_shells_rows():
    shell = ShellOutputFilter()
    attack = (b"\x1b[31mred\x1b[0m ls\r\n\x1b[24;1H\x1b[7mconsultant: Your Bank\x1b7\x1b8\x1b[r\x1b[2J"
              b"\x1b]0;title\x07\x1bP+q\x1b\\\xc2\x9b1;1Hend\b\x1b[K")
    # Split everywhere: a sequence cut between two reads is still recognised.
    shown = "".join(shell.feed(attack[i:i + 1]) for i in range(len(attack)))
    assert shown == "\x1b[31mred\x1b[0m ls\r\n\x1b[7mconsultant: Your Bankend\b\x1b[K"
    assert ShellOutputFilter().feed("Здравей, свят\n".encode()) == "Здравей, свят\n"


def test_what_the_shell_prints_reaches_the_customers_window():
    stream = io.StringIO()
    status = StatusLine(stream, Messages("en"))
    status.mirror(b"$ echo hi\r\nhi\r\n$ ")
    status.show(consultant="bob", connected_since=None, scopes={"view"}, state="state.connected")
    assert stream.getvalue() == "$ echo hi\r\nhi\r\n$ \n[connected] consultant: bob | may view | --:--:-- | to end press Q\n"


@pytest.mark.parametrize(("code", "reason", "exit_code", "first_line"), [
    (4410, "session ended by customer", 0, "Вие приключихте сесията."),
    (4410, "session ended by consultant", 0, "Консултантът приключи сесията."),
    (4410, "session ended by supervisor", 0, "Супервайзър приключи сесията."),
    (4410, "session ended by system (expired)", 0, "Системата приключи сесията (изтече времето за изчакване)."),
    (4410, "session ended by system (agent_lost)", 0,
     "Системата приключи сесията (връзката с този компютър беше загубена)."),
    (4410, "This session has ended.", 0, "Сесията приключи (This session has ended.)."),
    (4403, "This session code is not valid.", 1, "Кодът не беше приет: This session code is not valid."),
    (4429, "too many failed session code attempts; wait a minute", 1,
     "Твърде много опити с грешен код. Изчакайте минута и опитайте отново."),
    (4401, "", 1, "Услугата отказа връзката: 4401"),
    (4409, "taken", 1, "Услугата отказа връзката: taken"),
])
def test_each_final_close_code_ends_the_agent_with_its_words_and_exit_status(code, reason, exit_code, first_line):
    ending = endings.from_close(Messages("bg"), code, reason)
    assert ending.exit_code == exit_code
    assert ending.lines == (first_line, "Достъпът до този компютър е затворен.")


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1011, 1013, 4408])
def test_a_drop_or_a_passing_trouble_is_not_an_end(code):
    assert endings.from_close(Messages("en"), code, "") is None


async def test_a_gateway_that_attaches_and_drops_at_once_does_not_restart_the_grace_period():
    """Before issue #13 each upgrade that succeeded restarted the grace clock and the backoff: an agent facing a
    gateway that attaches and closes at once reconnected forever, as fast as it could."""
    connections: list[float] = []

    async def attach_and_drop(ws):
        connections.append(time.monotonic())
        await ws.send('{"type": "attached", "session_id": "S", "resume_token": "T", "scopes": ["view"]}')
        await ws.close(1011, "trouble")

    async with websockets.serve(attach_and_drop, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        agent = Agent(gateway=f"http://127.0.0.1:{port}", code="123456789", grace_seconds=2.0,
                      status=StatusLine(io.StringIO(), Messages("en")))
        started = time.monotonic()
        exit_code = await asyncio.wait_for(agent.run(), timeout=15)
    assert exit_code == endings.EXIT_LOST
    assert time.monotonic() - started < 2.0 + 5.0 + 1.0  # the grace period, plus at most one backoff wait
    gaps = [later - earlier for earlier, later in zip(connections, connections[1:])]
    assert len(connections) <= 6 and gaps[-1] > gaps[0], gaps  # the backoff grew
