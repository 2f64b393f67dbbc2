"""Clipboard text at the agent (issue #17), channel 4 under the `clipboard` scope: a consultant's put is set at once
and shown to the customer; a get waits for the customer's S (or D) and sends what was in the clipboard then; text
only, at most CLIPBOARD_MAX_CHARS, without control characters; one get at a time; nothing crosses without the scope.

The real Agent object, the gateway's side a fake socket; the clipboard an in-memory one (the system's own is tested
end to end on an X display: tests/test_e2e_clipboard.py)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import pytest

from assist_agent import clipboard_transfers, framing
from assist_agent.clipboard import ClipboardUnavailable
from assist_agent.clipboard_transfers import CLIPBOARD_MAX_CHARS, checked, clean, first_line, parse
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.platforms.keys import KeyWatcher
from assist_agent.status import describe

from agent_side import GatewaySide, attached_agent

BULGARIAN = "Здравейте! Въведете:\nsudo apt install cups\tи рестартирайте."
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[201~rm -rf ~\r\n\x9b31m\u202eevil\x7f\x00"


class MemoryClipboard:
    """The customer's clipboard in memory, with the system clipboard's three calls; `present` False: none here."""

    def __init__(self, text: str | None = None, *, present: bool = True) -> None:
        self.text, self.present, self.reads = text, present, 0

    def read(self) -> str | None:
        if not self.present:
            raise ClipboardUnavailable("no display")
        self.reads += 1
        return self.text or None

    def write(self, text: str) -> None:
        if not self.present:
            raise ClipboardUnavailable("no display")
        self.text = text

    def available(self) -> bool:
        return self.present


async def _attached(scopes=("view", "clipboard"), clipboard: MemoryClipboard | None = None,
                    language: str = "en") -> tuple[Agent, io.StringIO, GatewaySide, MemoryClipboard]:
    clipboard = clipboard or MemoryClipboard()

    def give_clipboard(agent: Agent) -> None:
        agent.clipboard.clipboard = clipboard

    agent, stream = await attached_agent(scopes=scopes, language=language, consultant="maria", joined=True,
                                         prepare=give_clipboard)
    return agent, stream, agent._ws, clipboard


def _frame(message: dict) -> bytes:
    return framing.encode_json(framing.CLIPBOARD, message)


async def _put(agent: Agent, text, transfer_id=None) -> str:
    transfer_id = str(uuid.uuid4()) if transfer_id is None else transfer_id
    await agent.channels.on_frame(_frame({"type": "clipboard.put", "id": transfer_id, "text": text}))
    return transfer_id


async def _get(agent: Agent, transfer_id: str | None = None) -> str:
    transfer_id = transfer_id or str(uuid.uuid4())
    await agent.channels.on_frame(_frame({"type": "clipboard.get", "id": transfer_id}))
    return transfer_id


async def _answer(socket: GatewaySide, transfer_id: str, timeout: float = 5.0) -> dict:
    """The agent's answer to `transfer_id`, once it came."""
    async with asyncio.timeout(timeout):
        while True:
            answers = [answer for answer in socket.on_channel(framing.CLIPBOARD) if answer.get("id") == transfer_id]
            if answers:
                assert len(answers) == 1, answers
                return answers[0]
            await asyncio.sleep(0.01)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


def _no_control_characters(text: str) -> bool:
    return not any((ord(char) < 0x20 and char not in "\n") or 0x7F <= ord(char) <= 0x9F or char == "\u202e"
                   for char in text)


# --- the rules ---------------------------------------------------------------------------------------------------
def test_clean_drops_escape_sequences_and_control_characters_and_keeps_lines_and_tabs():
    assert clean(BULGARIAN) == BULGARIAN
    assert clean("one\r\ntwo\rthree\u2028four\x85five") == "one\ntwo\nthree\nfour\nfive"
    assert clean(ESCAPES) == "rm -rf ~\nevil"
    # ESC d and CSI f (0x9B f) are sequences: gone whole
    assert clean("a\x00b\x08c\x1bd\x7fe\x9bf\u200eg\u2066h") == "abcegh"
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        assert clean(f"x{chr(code)}y") in ("xy", "x\ny", "x\ty", "x"), hex(code)


def test_only_text_of_up_to_the_limit_with_something_left_once_cleaned_passes():
    assert checked(BULGARIAN) == (BULGARIAN, None)
    assert checked("я" * CLIPBOARD_MAX_CHARS) == ("я" * CLIPBOARD_MAX_CHARS, None)
    assert checked("я" * (CLIPBOARD_MAX_CHARS + 1)) == (None, "too_long")
    assert checked("😀" * CLIPBOARD_MAX_CHARS)[1] is None  # characters, not UTF-16 units or bytes
    for value in (None, 42, True, ["text"], {"text": "x"}, b"bytes", "lone \ud800 surrogate"):
        assert checked(value) == (None, "not_text"), value
    for value in ("", "   ", "\x1b[2J", "\x00\x07", "\n\t"):
        assert checked(value) == (None, "empty"), value


def test_the_first_line_shown_is_one_safe_line_cut_and_marked_when_more_follows():
    assert first_line("sudo apt install cups") == '"sudo apt install cups"'
    assert first_line("\n\n  first\nsecond") == '"first …"'
    long = first_line("x" * 500)
    assert long.endswith('…"') and len(long) <= clipboard_transfers.FIRST_LINE_SHOWN + 2
    assert _no_control_characters(first_line("a\tb\u202e\x1b[2Jc"))
    assert first_line("\n \n") == '""'


def test_a_channel_4_payload_is_utf8_json_with_a_type_or_refused():
    assert parse('{"type": "clipboard.get", "id": "1"}'.encode()) == {"type": "clipboard.get", "id": "1"}
    for payload in (b"\xff\xfe{}", '{"type": "x"}'.encode("utf-16"), b"[1]", b'{"id": "1"}', b"not json", b""):
        with pytest.raises(framing.FrameError):
            parse(payload)


# --- a put ----------------------------------------------------------------------------------------------------------
async def test_a_put_lands_in_the_clipboard_is_shown_to_the_customer_and_answered_done():
    agent, stream, socket, clipboard = await _attached()
    transfer_id = await _put(agent, BULGARIAN)
    assert await _answer(socket, transfer_id) == {"type": "clipboard.done", "id": transfer_id}
    assert clipboard.text == BULGARIAN
    assert f'[clipboard] maria put {len(BULGARIAN)} characters into your clipboard: "Здравейте! Въведете: …"' in (
        stream.getvalue())


async def test_a_put_with_escape_sequences_is_set_and_shown_without_them():
    agent, stream, socket, clipboard = await _attached()
    transfer_id = await _put(agent, "echo hi" + ESCAPES)
    assert (await _answer(socket, transfer_id))["type"] == "clipboard.done"
    assert clipboard.text == "echo hirm -rf ~\nevil"
    assert _no_control_characters(stream.getvalue().replace("\n", ""))
    assert '"echo hirm -rf ~ …"' in stream.getvalue()


async def test_an_oversized_or_non_text_put_sets_nothing_and_is_answered_failed_with_the_reason():
    agent, stream, socket, clipboard = await _attached(clipboard=MemoryClipboard("the customer's own"))
    too_long = await _put(agent, "x" * (CLIPBOARD_MAX_CHARS + 1))
    assert await _answer(socket, too_long) == {"type": "clipboard.failed", "id": too_long, "reason": "too_long"}
    assert f"maria tried to put {CLIPBOARD_MAX_CHARS + 1} characters into your clipboard, more than" in (
        stream.getvalue())
    for value, reason in ((12345, "not_text"), (["a"], "not_text"), (None, "not_text"), ("\x1b[2J", "empty")):
        transfer_id = await _put(agent, value)
        assert await _answer(socket, transfer_id) == {"type": "clipboard.failed", "id": transfer_id,
                                                      "reason": reason}
    assert clipboard.text == "the customer's own"  # nothing was set


async def test_a_put_that_is_not_utf8_or_has_no_proper_id_is_dropped_and_nothing_is_set(caplog):
    agent, stream, socket, clipboard = await _attached()
    await agent.channels.on_frame(bytes((framing.CLIPBOARD,)) + b'{"type":"clipboard.put","id":"1","text":"\xff"}')
    await agent.channels.on_frame(bytes((framing.CLIPBOARD,)) + '{"type":"clipboard.put","id":"1","text":"x"}'.encode(
        "utf-16"))
    await agent.channels.on_frame(_frame({"type": "clipboard.put", "text": "text"}))
    for transfer_id in (7, "", "x" * 37, "a b", "\x1b[2J", ["1"]):
        await _put(agent, "text", transfer_id=transfer_id)
    await agent.channels.on_frame(_frame({"type": "clipboard.erase", "id": "1"}))
    await _settle()
    assert clipboard.text is None and socket.on_channel(framing.CLIPBOARD) == []
    assert "not UTF-8 JSON" in caplog.text and "without a well-formed id" in caplog.text
    assert "unknown clipboard message" in caplog.text


async def test_where_there_is_no_clipboard_a_put_is_shown_to_copy_by_hand_and_answered_failed():
    agent, stream, socket, _clipboard = await _attached(clipboard=MemoryClipboard(present=False))
    transfer_id = await _put(agent, "перви ред\n\tвтори ред\x1b[2J")
    assert await _answer(socket, transfer_id) == {"type": "clipboard.failed", "id": transfer_id,
                                                  "reason": "no_clipboard"}
    written = stream.getvalue()
    assert "could not be put into your clipboard. Here they are, to copy by hand:" in written
    assert "  перви ред\n" in written and "      втори ред\n" in written
    assert _no_control_characters(written.replace("\n", ""))


# --- a get ----------------------------------------------------------------------------------------------------------
async def test_a_get_is_sent_only_after_the_customer_presses_s_and_what_was_sent_is_shown():
    agent, stream, socket, clipboard = await _attached(clipboard=MemoryClipboard(BULGARIAN))
    transfer_id = await _get(agent)
    await _settle()
    written = stream.getvalue()
    assert "[clipboard] maria asks for the text in your clipboard.\nPress S to send it, D to refuse.\n" in written
    assert "Здравейте" not in written  # nothing of the clipboard shows before the answer (the screen is shared)
    assert socket.on_channel(framing.CLIPBOARD) == [] and agent.clipboard.waiting
    assert "clipboard? S/D | to end press Q" in written.splitlines()[-1]
    KeyWatcher(lambda: None, on_clipboard_send=agent.clipboard.send_text).on_keys("s")
    assert await _answer(socket, transfer_id) == {"type": "clipboard.text", "id": transfer_id, "text": BULGARIAN}
    assert f'[clipboard] You sent maria {len(BULGARIAN)} characters from your clipboard: "Здравейте! Въведете: …"' in (
        stream.getvalue())
    assert not agent.clipboard.waiting
    agent.clipboard.send_text()  # a second S: nothing more is sent
    await _settle()
    assert len(socket.on_channel(framing.CLIPBOARD)) == 1


async def test_the_customer_refuses_with_d_and_nothing_of_the_clipboard_is_read_or_sent():
    agent, stream, socket, clipboard = await _attached(clipboard=MemoryClipboard("secret"))
    transfer_id = await _get(agent)
    reads = clipboard.reads
    KeyWatcher(lambda: None, on_clipboard_refuse=agent.clipboard.refuse).on_keys("D")
    assert await _answer(socket, transfer_id) == {"type": "clipboard.refused", "id": transfer_id,
                                                  "reason": "declined"}
    assert clipboard.reads == reads and "secret" not in json.dumps(socket.on_channel(framing.CLIPBOARD))
    assert "[clipboard] You refused: nothing was sent." in stream.getvalue()


async def test_one_get_waits_at_a_time_the_next_is_refused_busy():
    agent, _stream, socket, _clipboard = await _attached(clipboard=MemoryClipboard("text"))
    first = await _get(agent)
    second = await _get(agent)
    assert await _answer(socket, second) == {"type": "clipboard.refused", "id": second, "reason": "busy"}
    agent.clipboard.send_text()
    assert await _answer(socket, first) == {"type": "clipboard.text", "id": first, "text": "text"}


async def test_an_unanswered_get_is_refused_after_the_answer_time(monkeypatch):
    monkeypatch.setattr(clipboard_transfers, "CLIPBOARD_ANSWER_SECONDS", 0.05)
    agent, stream, socket, _clipboard = await _attached(clipboard=MemoryClipboard("text"))
    transfer_id = await _get(agent)
    assert await _answer(socket, transfer_id) == {"type": "clipboard.refused", "id": transfer_id,
                                                  "reason": "timeout"}
    assert "The request for your clipboard expired: nothing was sent." in stream.getvalue()
    agent.clipboard.send_text()
    await _settle()
    assert len(socket.on_channel(framing.CLIPBOARD)) == 1


async def test_a_clipboard_too_long_empty_or_with_escape_sequences_is_refused_or_cleaned():
    clipboard = MemoryClipboard("x" * (CLIPBOARD_MAX_CHARS + 1))
    agent, stream, socket, _clipboard = await _attached(clipboard=clipboard)
    transfer_id = await _get(agent)
    agent.clipboard.send_text()
    assert await _answer(socket, transfer_id) == {"type": "clipboard.refused", "id": transfer_id,
                                                  "reason": "too_long"}
    assert f"Your clipboard holds {CLIPBOARD_MAX_CHARS + 1} characters, more than {CLIPBOARD_MAX_CHARS}" in (
        stream.getvalue())
    for text, answer in ((None, {"reason": "no_text"}), ("\x1b[2J", {"reason": "empty"}),
                         ("ls" + ESCAPES, {"text": "lsrm -rf ~\nevil"})):
        clipboard.text = text
        transfer_id = await _get(agent)
        agent.clipboard.send_text()
        got = await _answer(socket, transfer_id)
        assert {key: got[key] for key in answer} == answer, got


async def test_where_there_is_no_clipboard_a_get_is_refused_at_once():
    agent, stream, socket, _clipboard = await _attached(clipboard=MemoryClipboard(present=False))
    transfer_id = await _get(agent)
    assert await _answer(socket, transfer_id) == {"type": "clipboard.refused", "id": transfer_id,
                                                  "reason": "no_clipboard"}
    assert not agent.clipboard.waiting
    assert "this computer has no clipboard the agent can read" in stream.getvalue()


# --- the scope --------------------------------------------------------------------------------------------------
async def test_without_the_clipboard_scope_the_agent_refuses_channel_4_and_reads_nothing():
    """A consultant whose consent lacks `clipboard` writes channel 4 himself (the gateway would drop it: this is
    the agent's own gate, should one come through anyway)."""
    agent, stream, socket, clipboard = await _attached(scopes=("view", "control"), clipboard=MemoryClipboard("pw"))
    await _get(agent)
    await _put(agent, "overwritten")
    await _settle()
    assert clipboard.text == "pw" and clipboard.reads == 0 and socket.on_channel(framing.CLIPBOARD) == []
    refused = [control for control in socket.controls() if control["type"] == "refused"]
    assert [control["what"] for control in refused] == ["clipboard", "clipboard"]
    assert refused[0]["reason"] == "the customer's consent does not include clipboard"
    assert "asks for the text in your clipboard" not in stream.getvalue()


async def test_a_withdrawn_scope_cancels_the_waiting_get_and_nothing_is_sent_on_channel_4_after_it():
    agent, stream, socket, clipboard = await _attached(clipboard=MemoryClipboard("secret"))
    await _get(agent)
    await agent._on_gateway({"type": "scopes", "scopes": ["view"]})
    assert not agent.clipboard.waiting
    assert "The request for your clipboard is cancelled: the clipboard is no longer allowed." in stream.getvalue()
    agent.clipboard.send_text()
    await _settle()
    assert socket.on_channel(framing.CLIPBOARD) == []  # not even the refusal: channel 4 is closed both ways
    await _get(agent)  # and a get that comes anyway is refused by the gate
    await _settle()
    assert socket.on_channel(framing.CLIPBOARD) == [] and clipboard.reads == 0


async def test_a_scope_taken_back_while_the_clipboard_is_read_sends_nothing(monkeypatch):
    agent, stream, socket, clipboard = await _attached(clipboard=MemoryClipboard("secret"))
    await _get(agent)
    taken = asyncio.Event()

    def slow_read():
        asyncio.run_coroutine_threadsafe(agent._on_gateway({"type": "scopes", "scopes": ["view"]}), loop).result()
        taken.set()
        return "secret"

    loop = asyncio.get_running_loop()
    clipboard.read = slow_read
    agent.clipboard.send_text()
    await asyncio.wait_for(taken.wait(), 5)
    await _settle()
    assert socket.on_channel(framing.CLIPBOARD) == []
    assert "Nothing was sent: the clipboard is no longer allowed." in stream.getvalue()


async def test_a_consultant_who_leaves_cancels_the_waiting_get():
    agent, stream, socket, _clipboard = await _attached(clipboard=MemoryClipboard("text"))
    await _get(agent)
    await agent._on_gateway({"type": "peer_left"})
    assert not agent.clipboard.waiting and "cancelled: the consultant left" in stream.getvalue()
    agent.clipboard.send_text()
    await _settle()
    assert socket.on_channel(framing.CLIPBOARD) == []


async def test_after_the_kill_switch_nothing_is_set_or_sent():
    agent, _stream, socket, clipboard = await _attached(clipboard=MemoryClipboard("secret"))
    await _get(agent)
    agent.channels.close_local()
    agent.clipboard.send_text()
    await _put(agent, "late")
    await _settle()
    assert socket.on_channel(framing.CLIPBOARD) == [] and clipboard.text == "secret"


# --- keys and words -----------------------------------------------------------------------------------------------
def test_s_and_d_answer_the_clipboard_and_leave_y_n_c_t_q_as_they_were():
    calls: list[str] = []
    keys = KeyWatcher(lambda: calls.append("end"), on_control=lambda: calls.append("control"),
                      on_approve=lambda: calls.append("approve"), on_refuse=lambda: calls.append("refuse"),
                      on_chat=lambda text: calls.append(f"chat:{text}"),
                      on_clipboard_send=lambda: calls.append("send"), on_clipboard_refuse=lambda: calls.append("deny"))
    keys.on_keys("sSdDyncC\x1b[D")  # the left arrow (ESC [ D) is not D
    assert calls == ["send", "send", "deny", "deny", "approve", "refuse", "control", "control"]
    calls.clear()
    keys.on_keys("tsd\r")  # in the chat prompt S and D are letters
    assert calls == ["chat:sd"]
    assert keys.on_keys("q") and calls[-1] == "end"


def test_the_status_line_offers_s_and_d_while_a_get_waits_and_keeps_the_way_to_end():
    say = Messages("en")
    line = describe(consultant="maria", connected_since=None, scopes={"view", "clipboard"}, now=0, messages=say,
                    clipboard=True, request={"control"})
    assert line.endswith("asks to control: Y/N | clipboard? S/D | to end press Q")
    narrow = describe(consultant="maria", connected_since=None, scopes={"view", "clipboard"}, now=0, messages=say,
                      clipboard=True, width=40)
    assert narrow.endswith("to end press Q") and len(narrow) <= 40


async def test_in_bulgarian_the_customer_reads_the_transfer_in_bulgarian():
    agent, stream, socket, _clipboard = await _attached(language="bg", clipboard=MemoryClipboard("текст"))
    transfer_id = await _put(agent, "ls -la")
    await _answer(socket, transfer_id)
    assert '[клипборд] maria постави 6 знака в клипборда ви: "ls -la"' in stream.getvalue()
    await _get(agent)
    assert "Натиснете S, за да го изпратите, или D, за да откажете." in stream.getvalue()
