"""Step-up consent as its people see it (issue #16), in chromium with the real agent: the customer asked for help
on a 320 px phone in Bulgarian, consenting to `view` only; elena, at the console, asks for control with a reason;
the customer reads who asks, for what and why, and allows it: the console takes keys at once and a command runs in
the customer's shell. Later the customer takes control back, elena asks again and the customer refuses: the
console says so and stays view-only. Then elena asks for files alone (#17; asking for nothing is refused on the
page), the customer allows it, and the console, the customer's page and the API agree: view and files, still no
control.
Screenshots: docs/screenshots/customer-step-up-request-320px.png, console-session-step-up-pending.png and
console-session-step-up-approved.png.
"""

from __future__ import annotations

import httpx
import pytest
from assist_gateway.web.i18n import MESSAGES
from assist_gateway.web.words.session_view import WORDS
from browser import SCREENSHOTS, chromium
from console_session import wait_for_lines
from phone_story import PHONE, consultant_opens_it, customer_asks_on_the_phone
from public_api import bearer

pytestmark = pytest.mark.e2e

BG = MESSAGES["bg"]
SV = WORDS["bg"]
PASSWORD = "elena-pass-123"
REASON = "Ще преинсталирам драйвера на принтера <b>веднага</b>"


async def assert_fits_the_phone(page) -> None:
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"
    for button in ("#scope-approve", "#scope-refuse"):
        if await page.is_visible(button):
            box = await page.locator(button).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (button, box)


async def ask_for_control(console, reason: str) -> None:
    await console.fill("#step-up-reason", reason)
    await console.click("#step-up-ask")
    await console.wait_for_selector("#step-up-status[data-status='pending']")
    assert await console.inner_text("#step-up-status") == WORDS["bg"]["sv_step_up_pending"]
    assert await console.is_hidden("#step-up-box")  # one request at a time


async def offered(console) -> list[str]:
    """The scopes the console's step-up form offers to ask for."""
    return [scope for scope in ("control", "files", "clipboard") if await console.is_visible(f"#step-up-scope-{scope}")]


async def test_the_customer_allows_control_asked_for_with_a_reason_then_refuses_the_next(start_system, tmp_path,
                                                                                           agents):
    system = start_system(shared=True)
    system.add_user("consultant", "elena", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium() as browser:
        story = await customer_asks_on_the_phone(browser, base, tmp_path, errors=errors, control=False)
        phone, customer, saved, agent = story.phone, story.customer, story.saved, story.agent
        agents.append(agent)
        console = await consultant_opens_it(browser, base, story, username="elena", password=PASSWORD,
                                            errors=errors)
        await customer.wait_for_selector("#allowed-scopes[data-scopes='view']")
        assert await console.is_visible("#view-only-badge")

        await ask_for_control(console, REASON)
        await console.screenshot(path=str(SCREENSHOTS / "console-session-step-up-pending.png"), full_page=True)

        # The customer reads who asks, for what and why, in Bulgarian, the reason as plain text.
        await customer.wait_for_selector("#scope-request", state="visible")
        assert await customer.inner_text("#scope-request-who") == "elena"
        assert await customer.inner_text("#scope-request-scopes") == BG["cs_scope_request_control"]
        assert await customer.inner_text("#scope-request-reason") == REASON
        assert await customer.locator("#scope-request-reason b").count() == 0
        assert await customer.inner_text("#allowed-scopes") == BG["cs_scope_view"]  # asking grants nothing
        await assert_fits_the_phone(customer)
        # What the phone shows at that moment (the End button stays at the bottom of the screen).
        await customer.screenshot(path=str(SCREENSHOTS / "customer-step-up-request-320px.png"))
        # ...and so does the agent's terminal, where Y or N would answer it as well.
        await agent.wait_for_log("Consultant elena asks for permission: control (keyboard and mouse).")

        await customer.click("#scope-approve")
        await customer.wait_for_selector("#scope-request-answer[data-status='approved']")
        assert await customer.inner_text("#scope-request-answer") == BG["cs_scope_answer_approved"]
        await customer.wait_for_selector("#allowed-scopes[data-scopes='view,control']")
        assert await customer.is_visible("#withdraw-control") and await customer.is_hidden("#scope-request")

        await console.wait_for_selector("#step-up-status[data-status='approved']")
        assert await console.inner_text("#step-up-status") == WORDS["bg"]["sv_step_up_approved"]
        await console.wait_for_selector("#view-only-badge", state="hidden")
        await console.wait_for_selector("#session-scopes[data-scopes='view,control']")
        # With control held, asking for the rest is folded behind a button; opened, it offers files and clipboard.
        assert await console.is_hidden("#step-up-box") and await console.is_visible("#step-up-open")
        await console.click("#step-up-open")
        assert await console.get_attribute("#step-up-open", "aria-expanded") == "true"
        assert await console.is_visible("#step-up-box") and await offered(console) == ["files", "clipboard"]
        await console.click("#step-up-open")
        assert await console.is_hidden("#step-up-box")
        await agent.wait_for_log("You allowed elena: control (keyboard and mouse).")
        await console.click("#terminal")
        await console.keyboard.type("echo stepped-up-$((2+3))\n")
        await wait_for_lines(console, lambda lines: "stepped-up-5" in lines)
        await console.screenshot(path=str(SCREENSHOTS / "console-session-step-up-approved.png"), full_page=True)

        # Taken back, asked again, refused: final for that request, and the console stays view-only.
        await customer.click("#withdraw-control")
        await customer.wait_for_selector("#allowed-scopes[data-scopes='view']")
        await console.wait_for_selector("#step-up-box", state="visible")
        await ask_for_control(console, "Още веднъж, моля")
        await customer.wait_for_selector("#scope-request", state="visible")
        assert await customer.inner_text("#scope-request-reason") == "Още веднъж, моля"
        await customer.click("#scope-refuse")
        await customer.wait_for_selector("#scope-request-answer[data-status='refused']")
        assert await customer.inner_text("#scope-request-answer") == BG["cs_scope_answer_refused"]
        await console.wait_for_selector("#step-up-status[data-status='refused']")
        assert await console.inner_text("#step-up-status") == WORDS["bg"]["sv_step_up_refused"]
        assert await console.is_visible("#view-only-badge")
        witness = tmp_path / "typed-after-the-refusal"
        await console.click("#terminal")
        await console.keyboard.type(f"touch {witness}\n")
        async with httpx.AsyncClient(base_url=base, timeout=15) as client:
            view = (await client.get(f"/api/v1/sessions/{saved['session_id']}",
                                     headers=bearer(saved["customer_token"]))).json()
        assert view["scopes"] == ["view"] and view["scope_request"]["status"] == "refused"
        assert not witness.exists()

        # Files alone (#17): control is ticked first, so elena unticks it; asking for nothing is said on the page.
        assert await offered(console) == ["control", "files", "clipboard"]
        assert await console.is_checked("#step-up-scope-control")
        assert not await console.is_checked("#step-up-scope-files")
        await console.uncheck("#step-up-scope-control")
        await console.fill("#step-up-reason", "Ще ви изпратя новия драйвер")
        await console.click("#step-up-ask")
        await console.wait_for_selector("#step-up-error:not([hidden])")
        assert await console.inner_text("#step-up-error") == SV["sv_step_up_scopes_required"]
        assert await console.get_attribute("#step-up-status", "data-status") == "refused"  # nothing was asked
        await console.check("#step-up-scope-files")
        assert await console.is_hidden("#step-up-error")
        await console.click("#step-up-ask")
        await console.wait_for_selector("#step-up-status[data-status='pending']")
        await customer.wait_for_selector("#scope-request[data-request-id]:not([data-request-id=''])")
        assert await customer.get_attribute("#scope-request-scopes", "data-scopes") == "files"
        assert await customer.inner_text("#scope-request-scopes") == BG["cs_scope_request_files"]
        assert await customer.inner_text("#scope-request-reason") == "Ще ви изпратя новия драйвер"
        await customer.click("#scope-approve")
        await customer.wait_for_selector("#scope-request-answer[data-status='approved']")
        await customer.wait_for_selector("#allowed-scopes[data-scopes='view,files']")
        assert await customer.inner_text("#allowed-scopes") == f"{BG['cs_scope_view']}, {BG['cs_scope_files']}"
        assert await customer.is_visible("#withdraw-files") and await customer.is_hidden("#withdraw-control")

        await console.wait_for_selector("#step-up-status[data-status='approved']")
        assert await console.inner_text("#step-up-status") == SV["sv_step_up_approved_scopes"].replace(
            "{scopes}", SV["sv_scope_files"])
        await console.wait_for_selector("#session-scopes[data-scopes='view,files']")
        async with httpx.AsyncClient(base_url=base, timeout=15) as client:
            view = (await client.get(f"/api/v1/sessions/{saved['session_id']}",
                                     headers=bearer(saved["customer_token"]))).json()
        assert view["scopes"] == ["view", "files"]
        assert view["scope_request"]["status"] == "approved" and view["scope_request"]["scopes"] == ["files"]
        assert await console.inner_text("#session-scopes") == ", ".join(SV[f"sv_scope_{s}"] for s in view["scopes"])
        # Still watching only; what is still missing may be asked for.
        assert await console.is_visible("#view-only-badge")
        assert await console.is_visible("#step-up-box") and await offered(console) == ["control", "clipboard"]
        await phone.close()
    assert errors == [], errors
