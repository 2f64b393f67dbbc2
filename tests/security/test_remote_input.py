"""Input on the customer's screen as an attacker sends it (issue #14): a view-only consultant typing on the
canvas, an agent reached with input anyway, oversized and malformed events, control characters and escape
sequences in text. An X reader on the customer's display (a Tk window, `x_reader.XReader`) is the witness: after
each attempt a barrier (a frame behind the attempt on the same socket, answered by the agent) and a sentinel key
typed with xdotool (the X server delivers in order) prove that nothing of the attempt arrived, not merely "not yet".
"""

from __future__ import annotations

import subprocess

import pytest
from agent_flow import Xvfb, missing_x_tools, start_session
from remote_screen import BG_PHONETIC, layout_keys, remote_screen
from x_reader import XReader, missing_tk

from assist_agent import framing
from assist_agent.channels import Channels
from assist_agent.inputs import MAX_TEXT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or ""),
    pytest.mark.skipif(missing_tk() is not None, reason=missing_tk() or ""),
]


def text(value) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "text", "text": value})


def key(name, pressed=True) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "key", "key": name, "pressed": pressed})


async def sentinel(display: Xvfb, reader: XReader, expected_text: str) -> None:
    """A key typed on the display by xdotool (XTest): once the reader has it, every earlier X event was read."""
    subprocess.run(["xdotool", "key", "--clearmodifiers", "z"], env=display.env(), check=True)
    await reader.wait_for_text(expected_text)


@pytest.fixture
def display():
    xvfb = Xvfb(640, 480)
    yield xvfb
    xvfb.stop()


@pytest.fixture
def reader(display, tmp_path):
    witness = XReader(display, tmp_path / "x-reader.jsonl")
    yield witness
    witness.stop()


async def test_a_view_only_consultants_keys_and_text_on_the_canvas_reach_nothing(start_system, tmp_path):
    system = start_system(shared=True)
    async with remote_screen(system, tmp_path, scopes=("view",)) as remote:
        # The view-only page offers no input at all (tests/security/test_session_view.py counts its frames)...
        await remote.page.click("#screen", position={"x": 40, "y": 10})
        await remote.page.keyboard.type("Hello, world 123")
        await remote.type_keys(layout_keys("Здравей", BG_PHONETIC))
        await remote.page.keyboard.press("Enter")
        await remote.page.keyboard.press("Control+KeyA")
        # ...so a consultant who wants more forges the input frames on the page's own socket.
        await remote.send_frame(3, {"type": "text", "text": "Hello, world 123"})
        await remote.send_frame(3, {"type": "text", "text": "Здравей"})
        for pressed in (True, False):
            await remote.send_frame(3, {"type": "key", "key": "Enter", "pressed": pressed})
        # The gateway refused them and said so, in a text frame of its own.
        await remote.page.wait_for_function(
            "() => window.__gatewayTexts.some((text) => JSON.parse(text).type === 'refused')")
        # Behind the typing on the same socket: a console hello of another protocol, which the agent answers by
        # closing its channels (and logging it). Once it is logged, the typing before it was handled as well.
        await remote.send_control({"type": "hello", "protocol": 99, "role": "console"})
        await remote.agent.wait_for_log("the console speaks protocol 99")
        await sentinel(remote.display, remote.reader, "z")
        assert [event["keysym"] for event in remote.reader.keys()] == ["z"]
        # The gateway dropped every frame: the agent saw none of them (it would have refused and logged them too).
        assert "refused input" not in remote.agent.log()


async def test_the_agent_refuses_view_only_input_that_reaches_it_anyway(display, reader, monkeypatch):
    """A gateway that forwarded a view-only consultant's input: the agent refuses every event itself."""
    monkeypatch.setenv("DISPLAY", display.display)
    await reader.ready()
    sent: list[dict] = []

    async def send(data: bytes) -> None:
        sent.append(framing.decode(data).json())

    channels = Channels(send=send, scopes=frozenset({"view"}))
    attempts = [text("rm -rf ~"), key("a"), key("a", False), key("Enter"), text("Здравей"),
                framing.encode_json(framing.INPUT, {"type": "pointer_button", "button": "left", "pressed": True})]
    for frame in attempts:
        await channels.on_frame(frame)
    assert [(message["type"], message["what"]) for message in sent] == [("refused", "input")] * len(attempts)
    assert channels._injector is None  # nothing was ever opened on the display for input
    await sentinel(display, reader, "z")
    assert [event["keysym"] for event in reader.keys()] == ["z"]


MALFORMED = [
    text("x" * (MAX_TEXT + 1)),
    text("Здравей" * 20_000),  # 140,000 characters: within the relay's 1 MiB frame limit, far over the event's
    text(""),
    text(None),
    text(["a", "b"]),
    text({"text": "a"}),
    framing.encode_json(framing.INPUT, {"type": "text"}),
    key("a", "yes"),
    key("Unidentified"),
    key("ab"),
    framing.encode_json(framing.INPUT, {"type": "type_string", "text": "abc"}),
    framing.encode_json(framing.INPUT, {"type": "pointer_move", "x": float("1e308"), "y": 0}),
]


async def test_oversized_and_malformed_input_is_refused_and_the_agent_stays_up(start_system, tmp_path, display,
                                                                              reader):
    system = start_system(shared=True)
    await reader.ready()
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        for frame in MALFORMED:
            await consultant.send(frame)
            refused = await consultant.next_control("refused")
            assert refused["what"] == "input" and refused["reason"], refused
        # Not JSON, or JSON that is no event: dropped and logged (no reply), the agent carries on.
        await consultant.send(bytes([framing.INPUT]) + b"\xff\xfe{not json")
        await consultant.send(bytes([framing.INPUT]) + b"[1, 2, 3]")
        assert agent.process.poll() is None
        # Behind them on the same socket, a good event: it is typed, and it is all that was typed.
        await consultant.send(text("ok"))
        await reader.wait_for_text("ok")
        assert [event["char"] for event in reader.keys()] == ["o", "k"]
        assert agent.process.poll() is None
        assert agent.log().count("refused input from the consultant") == len(MALFORMED)
    finally:
        await consultant.ws.close()
        agent.stop()


CONTROL_TEXT = [
    "echo owned\n",  # a newline would run a command in a shell
    "echo owned\r",
    "\x1b[2J\x1b[H",  # escape sequences: clear the screen, move the cursor
    "\x1b]0;owned\x07",  # retitle a terminal window
    "\x9b31m",  # a C1 control sequence introducer
    "a\tb",
    "ok\x00",
    "\x7f\x7f\x7f",
    "invoice\u202eexe.pdf",  # bidi override: a file name that reads otherwise than it is
    "a\u2028b",
    "\x03",  # Ctrl-C as a character
]


async def test_control_characters_and_escape_sequences_in_text_are_never_typed(start_system, tmp_path, display,
                                                                                reader):
    system = start_system(shared=True)
    await reader.ready()
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        for value in CONTROL_TEXT:
            await consultant.send(text(value))
            refused = await consultant.next_control("refused")
            assert refused["what"] == "input" and "never typed" in refused["reason"], (value, refused)
        # A control character as a key name is no key either.
        for name in ("\n", "\x1b", "\x03", "\x7f"):
            await consultant.send(key(name))
            assert "unknown key" in (await consultant.next_control("refused"))["reason"]
        await consultant.send(text("ok"))
        await reader.wait_for_text("ok")
        # Nothing of the refused events was typed, not even their printable part ("echo owned", "invoice").
        assert [event["char"] for event in reader.keys()] == ["o", "k"]
        assert agent.process.poll() is None
    finally:
        await consultant.ws.close()
        agent.stop()


async def test_enter_arrives_only_as_the_key(start_system, tmp_path, display, reader):
    """Newline is not text; the Enter key is how a line ends, and it is the Return key an application gets."""
    system = start_system(shared=True)
    await reader.ready()
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        await consultant.send(text("ls"))
        await consultant.send(key("Enter"))
        await consultant.send(key("Enter", False))
        await consultant.send(text("!"))
        await reader.wait_for_text("ls!")
        assert [event["keysym"] for event in reader.keys()] == ["l", "s", "Return", "exclam"]
    finally:
        await consultant.ws.close()
        agent.stop()


async def test_a_modifier_held_when_the_consultant_leaves_is_let_go_by_the_agent(start_system, tmp_path, display,
                                                                                 reader):
    """The consultant's socket drops with Control down (a closed tab, a lost network): the customer's next keys
    must not be Ctrl shortcuts."""
    system = start_system(shared=True)
    await reader.ready()
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        await consultant.send(text("a"))
        await reader.wait_for_text("a")
        await consultant.send(key("Control"))
        await consultant.ws.close()
        await agent.wait_for_log("the consultant left")
        # The customer types (xdotool, as a keyboard would, without touching the modifiers).
        subprocess.run(["xdotool", "key", "b"], env=display.env(), check=True)
        await reader.wait_for_text("ab")
        assert reader.keys()[-1]["state"] & 0x4 == 0  # 0x4: ControlMask
    finally:
        agent.stop()


async def test_text_is_never_a_shortcut_even_with_control_held(start_system, tmp_path, display, reader):
    """Text typed while the consultant's Control is down (AltGr on Windows is Ctrl+Alt; a stale key) is typed as
    text: Ctrl+W or Ctrl+Q in the customer's application is a `key` event, never the side effect of `text`."""
    system = start_system(shared=True)
    await reader.ready()
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=display.env())
    try:
        await consultant.send(key("Control"))
        await consultant.send(text("wq"))
        await consultant.send(key("Control", False))
        await reader.wait_for_text("wq")
        typed = [event for event in reader.keys() if event["char"] in ("w", "q")]
        assert [event["state"] & 0x4 for event in typed] == [0, 0]  # 0x4: ControlMask
        # A shortcut is still a shortcut when it is sent as keys: Ctrl+H deletes a character in a Tk entry.
        await consultant.send(key("Control"))
        await consultant.send(key("h"))
        await consultant.send(key("h", False))
        await consultant.send(key("Control", False))
        await reader.wait_for_text("w")
    finally:
        await consultant.ws.close()
        agent.stop()
