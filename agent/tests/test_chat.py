"""Chat at the agent (issue #17): every message posted in the session comes from the gateway as a `chat` text frame
and is shown once per seq, its author and text made safe ("[chat] elena: …", the customer's own as "you"); the T key
opens a one-line prompt where Q, C, Y and N are letters, and Enter sends `{"type": "chat", "text": …}`."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest

from assist_agent import connection
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.platforms.keys import MESSAGE_LIMIT, KeyWatcher
from assist_agent.status import describe, display_width, prompt_line, wrap_to_width

from agent_side import GatewaySide, attached_agent, no_control_characters

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1HYour Bank's Security Team\r\n\x9b31m\u202e\x7f"


def _chat(seq: int, text: str = "Please wait a minute.", role: str = "consultant", author: str = "elena",
          **fields) -> dict:
    return {"type": "chat", "message": {"session_id": "A", "seq": seq, "role": role, "author": author,
                                        "text": text, "posted_at": "2026-11-29T10:00:00Z", **fields}}


async def _attached(language: str = "en", stream=None) -> tuple[Agent, io.StringIO]:
    return await attached_agent(language=language, stream=stream, joined=True)


def _keys(agent: Agent, calls: list | None = None) -> KeyWatcher:
    calls = [] if calls is None else calls
    return KeyWatcher(lambda: calls.append("end"), on_control=lambda: calls.append("control"),
                      on_approve=lambda: calls.append("approve"), on_refuse=lambda: calls.append("refuse"),
                      on_chat=agent.send_chat, on_draft=agent.show_draft)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _status_lines(written: str, hotkey: str = "to end press Q") -> list[str]:
    """The status lines written (off a terminal, a line each): the shell opened at `peer_joined` may write between."""
    return [line for line in written.splitlines() if line.endswith(hotkey)]


async def test_a_consultants_message_is_shown_with_its_author_and_the_hint_once():
    agent, stream = await _attached()
    await agent._on_gateway(_chat(1))
    await agent._on_gateway(_chat(2, "Done."))
    written = stream.getvalue()
    assert "[chat] elena: Please wait a minute.\n" in written
    assert "[chat] elena: Done.\n" in written
    assert written.count("Press T to reply.\n") == 1
    assert "T: message | to end press Q" in _status_lines(written)[-1]  # the status line offers the key from now on
    assert agent.scopes == frozenset({"view"})  # a chat message changes nothing else


async def test_the_author_and_the_text_are_made_safe_and_capped():
    agent, stream = await _attached()
    await agent._on_gateway(_chat(1, ESCAPES + " please", author="elena\x1b[2J\r\n\u202e"))
    written = stream.getvalue()
    assert "[chat] elena ?: Your Bank's Security Team ?? please\n" in written
    assert no_control_characters(written)
    await agent._on_gateway(_chat(2, "x" * 10_000, author="y" * 10_000))
    line = [line for line in stream.getvalue().splitlines() if line.startswith("[chat] y")][-1]
    assert line.count("x") < connection.CHAT_TEXT_LIMIT and line.endswith("…")
    assert line.count("y") < connection.CHAT_AUTHOR_LIMIT


async def test_on_a_terminal_a_long_message_is_wrapped_to_the_window_and_carries_no_escape_sequence():
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))  # 80x24
    agent, _ = await _attached(stream=stream)
    text = ("Моля, изчакайте минута, докато проверя настройките на принтера. " * 8).strip() + ESCAPES
    await agent._on_gateway(_chat(1, text))
    written = stream.getvalue()
    lines = [line for line in re.sub(r"\x1b(\[[0-9;]*[rHKmA]|[78])", "", written).split("\r\n") if "[chat]" in line
             or line.startswith("  ")]
    assert lines[0].startswith("[chat] elena: Моля, изчакайте") and len(lines) > 5
    assert all(display_width(line) <= 79 for line in lines)
    assert no_control_characters(re.sub(r"\x1b(\[[0-9;]*[rHKmA]|[78])|\r", "", written))


def test_wrapping_keeps_words_and_splits_only_what_is_longer_than_a_line():
    assert wrap_to_width("one two three", 79) == ["one two three"]
    assert wrap_to_width("aaaa bbbb cccc dddd", 14) == ["aaaa bbbb cccc", "  dddd"]
    lines = wrap_to_width("z" * 50, 20)
    assert "".join(line.strip() for line in lines) == "z" * 50 and all(len(line) <= 20 for line in lines)
    assert wrap_to_width("", 20) == [""]


async def test_the_customers_own_message_is_shown_as_you():
    agent, stream = await _attached()
    await agent._on_gateway(_chat(1, "Thank you!", role="customer", author="Ivan Petrov"))
    assert "[chat] you: Thank you!\n" in stream.getvalue()
    assert "Ivan Petrov" not in stream.getvalue()


async def test_each_seq_is_shown_once_and_a_malformed_message_or_another_session_is_ignored(caplog):
    agent, stream = await _attached()
    for seq in (1, 2, 1, 2, 3):
        await agent._on_gateway(_chat(seq, f"message {seq}"))
    written = stream.getvalue()
    assert [written.count(f"message {seq}\n") for seq in (1, 2, 3)] == [1, 1, 1]
    assert written.index("message 1") < written.index("message 2") < written.index("message 3")
    before = stream.getvalue()
    for malformed in ({"type": "chat"}, {"type": "chat", "message": "hi"}, _chat("4"), _chat(True),
                      _chat(-1), _chat(5, role="supervisor"), _chat(6, text=None), _chat(7, session_id="B")):
        await agent._on_gateway(malformed)
    assert stream.getvalue() == before
    assert "ignored a malformed chat message" in caplog.text and "names another session" in caplog.text


async def test_many_seqs_are_remembered_in_bounded_memory(monkeypatch):
    monkeypatch.setattr(connection, "CHAT_SEQS_KEPT", 10)
    agent, stream = await _attached()
    for seq in range(30):
        await agent._on_gateway(_chat(seq, f"message {seq}."))
    for seq in range(30):
        await agent._on_gateway(_chat(seq, f"message {seq}."))
    assert len(agent._chat_seen) <= 10
    assert all(stream.getvalue().count(f"message {seq}.\n") == 1 for seq in range(30))


async def test_t_opens_the_prompt_and_hotkeys_are_letters_of_the_message_while_typing():
    agent, stream = await _attached()
    calls: list = []
    keys = _keys(agent, calls)
    assert keys.on_keys("t") is False and keys.typing
    assert keys.on_keys("Quick, yes no: C!") is False
    assert calls == [] and keys.draft == "Quick, yes no: C!"
    await _settle()
    assert agent.draft == "Quick, yes no: C!"
    assert "Message (Enter to send, Esc to cancel)" in stream.getvalue()
    keys.on_keys("\n")
    await _settle()
    assert [json.loads(frame) for frame in agent._ws.texts()] == [{"type": "chat", "text": "Quick, yes no: C!"}]
    assert not keys.typing and agent.draft is None
    assert "Quick, yes no" not in stream.getvalue()  # shown only when the gateway sends it back
    assert [keys.on_key(key) for key in "ycq"] == [False, False, True]  # the keys are hotkeys again
    assert calls == ["approve", "control", "end"]


async def test_cyrillic_typed_across_reads_is_sent_as_the_right_frame():
    agent, _ = await _attached("bg")
    keys = _keys(agent)
    data = "TЗдравейте, принтерът не печата.\r".encode()
    for index in range(0, len(data), 3):  # reads that cut letters of two bytes in half
        keys.feed(data[index:index + 3])
    await _settle()
    assert len(agent._ws.texts()) == 1
    assert agent._ws.texts()[0] == json.dumps({"type": "chat", "text": "Здравейте, принтерът не печата."},
                                           separators=(",", ":"))
    assert json.loads(agent._ws.texts()[0])["text"] == "Здравейте, принтерът не печата."


async def test_esc_cancels_and_an_empty_message_is_not_sent():
    agent, stream = await _attached()
    calls: list = []
    keys = _keys(agent, calls)
    keys.feed(b"thello\x1b")  # a lone ESC: the Esc key
    assert not keys.typing
    keys.feed(b"t   \n")  # only spaces: closed, nothing sent
    assert not keys.typing
    keys.feed(b"t\n")
    await _settle()
    assert agent._ws.texts() == [] and calls == [] and agent.draft is None
    # The status line is back after the last prompt (the shell opened at peer_joined may write between them).
    lines, prompt = stream.getvalue().splitlines(), Messages("en")("chat.prompt").rstrip()
    last_prompt = max(index for index, line in enumerate(lines) if line == prompt)
    assert any(line.endswith("to end press Q") for line in lines[last_prompt + 1:])


async def test_backspace_deletes_the_last_letter_and_cursor_keys_do_nothing_else():
    agent, _ = await _attached()
    calls: list = []
    keys = _keys(agent, calls)
    keys.feed("tпринтеррр\x7f\x08".encode())
    assert keys.draft == "принтер"
    keys.feed(b"\x7f" * 20)
    assert keys.draft == ""
    keys.feed(b"ok\x01\t\x00")  # other control keys are not part of the message
    assert keys.draft == "ok"
    keys.feed(b"\n")
    keys.feed(b"\x1b[C\x1b[A\x1bOC")  # right and up arrows: not the C key
    assert calls == [] and not keys.typing
    keys.feed(b"t\x1b[D")  # an arrow while typing leaves the prompt, as Esc
    assert not keys.typing
    await _settle()
    assert [json.loads(frame)["text"] for frame in agent._ws.texts()] == ["ok"]


async def test_ctrl_q_still_ends_the_session_while_typing_and_a_message_is_capped():
    calls: list = []
    sent: list = []
    keys = KeyWatcher(lambda: calls.append("end"), on_chat=sent.append)
    keys.on_keys("t" + "a" * (MESSAGE_LIMIT + 50))
    assert len(keys.draft) == MESSAGE_LIMIT
    assert keys.on_key("\x11") is True and calls == ["end"] and not keys.typing and sent == []
    assert KeyWatcher(lambda: None).on_keys("tq") is True  # no chat wired: T does nothing, Q still ends


async def test_a_message_that_could_not_be_sent_says_so():
    agent, stream = await _attached()
    agent._ws = None  # between connections
    _keys(agent).on_keys("tHello\r")
    await _settle()
    assert "Your message could not be sent: press T to try again." in stream.getvalue()
    agent.send_chat("   ")
    agent.send_chat("x" * (MESSAGE_LIMIT + 1))
    agent._ws = GatewaySide()
    await _settle()
    assert agent._ws.texts() == []


async def test_on_a_terminal_the_prompt_takes_the_status_row_while_typing():
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))
    agent, _ = await _attached(stream=stream)
    keys = _keys(agent)
    keys.on_keys("tOK, thanks")
    await _settle()
    assert "\x1b[24;1H\x1b[0m\x1b[2K\x1b[1mMessage (Enter to send, Esc to cancel): OK, thanks\x1b[0m" in (
        stream.getvalue())
    agent._show()  # the clock's redraw keeps the prompt
    assert stream.getvalue().endswith("OK, thanks\x1b[0m\x1b[7m \x1b[0m\x1b8")
    keys.on_keys("\x1b")
    await _settle()
    assert "to end press Q\x1b[0m\x1b8" in stream.getvalue()[-40:]


@pytest.mark.parametrize("language", ["bg", "en"])
def test_the_prompt_fits_the_window_and_shows_the_end_of_a_long_message(language):
    say = Messages(language)
    text = "Принтерът в стаята " * 20 + "END"
    for width in (78, 40, 12):
        line = prompt_line(text, say, width=width)
        assert display_width(line) <= width and line.endswith("END"), (width, line)
    assert prompt_line(text, say, width=78).startswith(say("chat.prompt") + "…")
    assert prompt_line("short", say, width=78) == say("chat.prompt") + "short"
    for width in (79, 40, 20):
        line = describe(consultant="Мария Константинова-Петрова " * 4, connected_since=0.0, scopes={"view"},
                        now=5.0, messages=say, width=width, request={"control"}, observers=("sam",), chat=True)
        assert display_width(line) <= width and line.endswith(say("status.hotkey")), (width, line)


async def test_in_bulgarian():
    agent, stream = await _attached("bg")
    await agent._on_gateway(_chat(3, "Моля, изчакайте минута."))
    await agent._on_gateway(_chat(4, "Благодаря!", role="customer", author="Иван"))
    _keys(agent).on_keys("t")
    await _settle()
    written = stream.getvalue()
    for line in ("[чат] elena: Моля, изчакайте минута.\n", "[чат] вие: Благодаря!\n",
                 "Натиснете T, за да отговорите.\n", "T: съобщение | за край натиснете Q\n",
                 "Съобщение (Enter изпраща, Esc отказва):\n"):
        assert line in written, line
    agent._ws = None
    agent.send_chat("Здравейте")
    await _settle()
    assert "Съобщението ви не можа да бъде изпратено: натиснете T, за да опитате отново." in stream.getvalue()
