"""An observer, disclosed, as its people see it (issue #16), in chromium with the real agent: the customer is told
before consenting that a supervisor may watch; sam, a supervisor, opens a running session from his page and watches
the consultant's terminal without being able to type; the customer's phone page (in Bulgarian, 320 px) and the
agent's terminal name him from the moment he joins, and say so when he leaves.
The recording is disclosed too (#19): before consent on the phone, then "● Записва се" on the customer's, the
consultant's and his page, and in the agent, while the session runs.
Screenshots: docs/screenshots/supervisor-observe.png and customer-observed-320px.png.
"""

from __future__ import annotations

import pytest
from assist_gateway.web.i18n import MESSAGES
from assist_gateway.web.words.session_view import WORDS
from browser import SCREENSHOTS, chromium, new_page, staff_login
from console_session import CONNECTED, terminal_lines, wait_for_lines
from phone_story import PHONE, consultant_opens_it, customer_asks_on_the_phone

pytestmark = pytest.mark.e2e

BG = MESSAGES["bg"]
PASSWORD = "staff-pass-123"


async def test_a_supervisor_watches_view_only_and_the_customer_sees_who(start_system, tmp_path, agents):
    system = start_system(shared=True)
    system.add_user("consultant", "elena", PASSWORD)
    system.add_user("supervisor", "sam", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium() as browser:
        async def disclosed(page) -> None:  # said before consent: a supervisor may watch, and who will be seen
            assert await page.inner_text("#observer-disclosure") == BG["cp_observer_disclosure"]
            # ... and that the session is recorded (#19): what, how long (the default 30 days), who sees it; in sight
            # on the phone, above the consent box.
            notice = page.locator("#recording-disclosure")
            assert await notice.inner_text() == BG["cp_recording_disclosure"].replace("{period}", "30 дни")
            await notice.scroll_into_view_if_needed()
            box, consent = await notice.bounding_box(), await page.locator("#consent").bounding_box()
            assert await notice.is_visible() and box["y"] + box["height"] <= consent["y"], (box, consent)
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        story = await customer_asks_on_the_phone(browser, base, tmp_path, errors=errors, before_consent=disclosed)
        phone, customer, saved, agent = story.phone, story.customer, story.saved, story.agent
        agents.append(agent)
        console = await consultant_opens_it(browser, base, story, username="elena", password=PASSWORD,
                                            errors=errors)
        await customer.wait_for_selector("#status-text[data-status='active']")
        assert await customer.is_hidden("#observers")  # nobody watches yet
        # Recorded (#19): the customer's page, the consultant's and the agent say so while it runs.
        await customer.wait_for_selector("#recorded-badge[data-recording='on']")
        assert await customer.inner_text("#recorded-badge") == BG["cs_recorded"]
        await console.wait_for_selector("#recorded-badge[data-recording='on']")
        assert await console.inner_text("#recorded-badge") == WORDS["bg"]["sv_recorded"]
        await agent.wait_for_log("This session is recorded: the terminal,")

        supervisor = await new_page(browser, errors=errors)
        sent: list = []
        supervisor.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(payload))
                      if "/ws/v1/observer/" in socket.url else None)
        await staff_login(supervisor, base, "/supervisor", "sam", PASSWORD)
        watch = supervisor.locator(f"a.button.watch[href='/console/observe/{saved['session_id']}']")
        await watch.wait_for()
        await watch.click()
        await supervisor.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=30000)
        assert await supervisor.inner_text("#observer-notice") == WORDS["bg"]["sv_observer_notice"]
        await supervisor.wait_for_selector("#recorded-badge[data-recording='on']")  # watched and recorded (#19)

        # From the moment he joins: the agent's terminal, the customer's page and the consultant's page name him.
        await agent.wait_for_log("Supervisor sam is now watching your screen and terminal (view only: they cannot "
                                 "type or control).")
        await customer.wait_for_selector("#observers[data-observers='sam']")
        assert await customer.inner_text("#observers") == BG["cs_observers"].replace("{names}", "sam")
        width = await customer.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        await customer.screenshot(path=str(SCREENSHOTS / "customer-observed-320px.png"))
        await console.wait_for_selector("#observers-note[data-observers='sam']")

        # He sees what the consultant does in the customer's shell, and cannot type into it.
        await console.click("#terminal")
        await console.keyboard.type("echo watched-$((3*3))\n")
        await wait_for_lines(console, lambda lines: "watched-9" in lines)
        await wait_for_lines(supervisor, lambda lines: "watched-9" in lines)
        witness = tmp_path / "typed-by-the-observer"
        await supervisor.click("#terminal")
        await supervisor.keyboard.type(f"touch {witness}\n")
        await console.keyboard.type("echo still-$((4*4))\n")
        await wait_for_lines(supervisor, lambda lines: "still-16" in lines)
        assert not witness.exists() and sent == [], sent  # the observer's page sent nothing at all
        assert not any(str(witness) in line for line in await terminal_lines(console))
        await supervisor.screenshot(path=str(SCREENSHOTS / "supervisor-observe.png"), full_page=True)

        await supervisor.close()
        await agent.wait_for_log("Supervisor sam stopped watching.")
        await customer.wait_for_selector("#observers", state="hidden")
        await phone.close()
    assert errors == [], errors
