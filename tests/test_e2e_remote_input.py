"""Keys and text typed on the console's screen canvas arrive on the customer's display (issue #14).

The whole real path: Debian's chromium (Playwright) types on `#screen` in the consultant's session page → the
gateway's relay → the real `assist agent` on an Xvfb display of its own → X → a Tk window on that display
(`x_reader.XReader`), which reports what an application really received.
"""

from __future__ import annotations

import pytest
from agent_flow import Xvfb, missing_x_tools, start_session
from remote_screen import BG_PHONETIC, layout_keys, remote_screen
from x_reader import XReader, keymap, missing_tk

from assist_agent import framing

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or ""),
    pytest.mark.skipif(missing_tk() is not None, reason=missing_tk() or ""),
]


async def test_latin_text_typed_on_the_canvas_arrives_exactly(start_system, tmp_path):
    system = start_system(shared=True)
    async with remote_screen(system, tmp_path) as remote:
        await remote.click_reader()
        await remote.page.keyboard.type("Hello, world 123")
        await remote.reader.wait_for_text("Hello, world 123")
        # Shift held as a key of its own, as a person types a capital: it is let go with the key, nothing sticks.
        await remote.page.keyboard.press("Shift+KeyA")
        await remote.page.keyboard.type("b!")
        await remote.reader.wait_for_text("Hello, world 123Ab!")
        assert not any(key["synthetic"] for key in remote.reader.keys())
        assert remote.errors == []


async def test_bulgarian_text_from_a_bulgarian_keyboard_arrives_exactly(start_system, tmp_path):
    system = start_system(shared=True)
    async with remote_screen(system, tmp_path) as remote:
        customers_keymap = keymap(remote.display)
        await remote.click_reader()
        await remote.type_keys(layout_keys("Здравей, свят", BG_PHONETIC))
        await remote.reader.wait_for_text("Здравей, свят")
        keys = remote.reader.keys()
        assert "".join(key["char"] for key in keys) == "Здравей, свят"
        assert not any(key["synthetic"] for key in keys)
        assert keymap(remote.display) != customers_keymap  # typed on spare keycodes bound to the letters
        assert remote.errors == []
        # The keymap is the customer's again once the agent ends: the spare keycodes are unbound.
        remote.agent.stop()
        assert remote.agent.process.returncode is not None
        assert keymap(remote.display) == customers_keymap


async def test_backspace_and_enter_arrive_and_a_held_modifier_is_let_go_on_leaving_the_canvas(
        start_system, tmp_path):
    system = start_system(shared=True)
    async with remote_screen(system, tmp_path) as remote:
        await remote.click_reader()
        await remote.page.keyboard.type("abcd")
        await remote.reader.wait_for_text("abcd")
        await remote.page.keyboard.press("Backspace")
        await remote.page.keyboard.press("Backspace")
        await remote.reader.wait_for_text("ab")
        await remote.page.keyboard.press("Enter")
        await remote.page.keyboard.type("c")
        await remote.reader.wait_for_text("abc")  # the entry takes no newline: Enter arrived as the Return key
        keysyms = [key["keysym"] for key in remote.reader.keys()]
        assert keysyms.count("BackSpace") == 2 and keysyms[-2] == "Return"
        # Control goes down on the canvas; Escape leaves the canvas before Control comes up: the console lets go
        # of it on the customer's side, so the next letter is a letter, not Ctrl+letter.
        await remote.page.keyboard.down("Control")
        await remote.page.keyboard.press("Escape")
        assert await remote.page.evaluate("() => document.activeElement.id") != "screen"
        await remote.page.keyboard.up("Control")
        await remote.click_reader()
        await remote.page.keyboard.type("d")
        await remote.reader.wait_for_text("abcd")
        last = remote.reader.keys()[-1]
        assert last["char"] == "d" and last["state"] & 0x4 == 0, last  # 0x4: ControlMask
        assert remote.errors == []


async def test_a_text_with_more_distinct_characters_than_spare_keycodes_arrives_exactly(start_system, tmp_path):
    """Xvfb's keymap leaves 17 keycodes empty; one `text` event of over twice as many characters outside the keymap
    (one event may carry up to 256) still arrives character for character, in order."""
    system = start_system(shared=True)
    display = Xvfb(640, 480)
    reader = XReader(display, tmp_path / "x-reader.jsonl")
    agent = None
    try:
        await reader.ready()
        spare = sum(1 for keysyms in keymap(display) if not any(keysyms))
        agent, consultant = await start_session(system, tmp_path, env=display.env())
        letters = "".join(chr(c) for c in range(0x430, 0x450)) + "".join(chr(c) for c in range(0x3B1, 0x3C9))
        assert len(set(letters)) > 2 * spare
        await consultant.send(framing.encode_json(framing.INPUT, {"type": "text", "text": letters}))
        await reader.wait_for_text(letters)
        assert "".join(key["char"] for key in reader.keys()) == letters
        await consultant.ws.close()
    finally:
        if agent is not None:
            agent.stop()
        reader.stop()
        display.stop()
