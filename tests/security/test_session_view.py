"""Attacks on the console's session page (`/console/session/{id}`): what it keeps in the browser and what
it sends.

- The terminal's recent history is kept in the tab's sessionStorage (T55): another session's page in the
  same tab finds none of it, a logout erases it, so does the end; another staff member in that tab cannot
  get it back.
- A view-only consultant's page sends no keystroke and no input event at all (T56): counted at the browser's
  own socket and in the gateway's log of refused frames, while a frame forged on a raw socket is refused
  and logged.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from agent_flow import Xvfb, missing_x_tools
from browser import checked_page, chromium, new_page, staff_login
from console_session import channels, open_session, terminal_lines, wait_for_lines
from identities import PASSWORD
from public_api import bearer, connect_consultant, login, next_control
from assist_agent import console

pytestmark = pytest.mark.e2e
needs_x = pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or "")
HISTORY = "assist.console.terminal."


async def stored(page) -> dict[str, str]:
    """Everything the page's tab keeps in sessionStorage."""
    return await page.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))")


async def test_the_kept_history_of_one_session_is_not_shown_by_another_and_is_erased_at_logout_and_end(
        system, tmp_path, agents):
    # The browser reports the 403 page it was shown (olga's attempt), nothing else may go wrong.
    async with checked_page(expected="status of 403") as page:
        first = await open_session(system, page, tmp_path, username="maria", password=PASSWORD)
        agents.append(first.agent)
        await page.click("#terminal")
        await page.keyboard.type("echo secret-of-the-first-$((3*3))\n")
        await wait_for_lines(page, lambda lines: "secret-of-the-first-9" in lines)
        first_key = HISTORY + first.request.session_id
        async with asyncio.timeout(10):  # written back within a moment of the output
            while "secret-of-the-first-9" not in (await stored(page)).get(first_key, ""):
                await asyncio.sleep(0.1)

        # The same tab opens another session's page: nothing of the first is shown, or left in the tab.
        second = await open_session(system, page, tmp_path, username="maria", password=PASSWORD,
                                    login_page=False)
        agents.append(second.agent)
        assert not any("secret-of-the-first" in line for line in await terminal_lines(page))
        kept = await stored(page)
        assert not any("secret-of-the-first" in value for value in kept.values()), kept.keys()
        assert HISTORY + first.request.session_id not in kept
        # Back on the first session's page: its history went when the tab moved on, the shell is still there.
        await page.goto(f"{system.gateway_url}/console/session/{first.request.session_id}")
        await page.wait_for_selector("#relay-state:has-text('Агентът е свързан')", timeout=20000)
        assert await page.get_attribute("#session", "data-history") is None
        assert not any("secret-of-the-first" in line for line in await terminal_lines(page))
        await page.click("#terminal")
        await page.keyboard.type("echo again-$((2*2))\n")
        await wait_for_lines(page, lambda lines: "again-4" in lines)
        async with asyncio.timeout(10):
            while "again-4" not in (await stored(page)).get(HISTORY + first.request.session_id, ""):
                await asyncio.sleep(0.1)

        # Logout erases it: the next person in this tab (another consultant) finds nothing, and cannot open
        # the page of a session that is not theirs.
        await page.click("form[action='/console/logout'] button")
        await page.wait_for_url("**/console/login*")
        assert not any(key.startswith(HISTORY) for key in await stored(page))
        await staff_login(page, system.gateway_url, "/console", "olga", PASSWORD)
        response = await page.goto(f"{system.gateway_url}/console/session/{first.request.session_id}")
        assert response.status == 403
        assert not any(key.startswith(HISTORY) for key in await stored(page))

        # The end erases it too, whoever ends: here the customer, while the page is open.
        await page.goto(f"{system.gateway_url}/console")
        await page.click("form[action='/console/logout'] button")
        await page.wait_for_url("**/console/login*")
        await staff_login(page, system.gateway_url, "/console", "maria", PASSWORD)
        await page.goto(f"{system.gateway_url}/console/session/{second.request.session_id}")
        await page.wait_for_selector("#relay-state:has-text('Агентът е свързан')", timeout=20000)
        await page.click("#terminal")
        await page.keyboard.type("echo before-the-end\n")
        await wait_for_lines(page, lambda lines: "before-the-end" in lines)
        async with asyncio.timeout(10):
            while HISTORY + second.request.session_id not in await stored(page):
                await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=15) as client:
            ended = await client.post(f"/api/v1/sessions/{second.request.session_id}/terminate",
                                      headers=bearer(second.request.customer_token))
            assert ended.status_code == 200, ended.text
        await page.wait_for_selector("#ended-banner:not([hidden])", timeout=10000)
        assert not any(key.startswith(HISTORY) for key in await stored(page))
        await page.reload()
        await page.wait_for_selector("#ended-banner:not([hidden])", timeout=10000)
        assert not any("before-the-end" in line for line in await terminal_lines(page))
        assert not any(key.startswith(HISTORY) for key in await stored(page))


def refusals_logged(system, session_id: str) -> list[str]:
    return [line for line in system.log_tail("gateway-1", lines=100000).splitlines()
            if "refused a" in line and session_id in line]


@needs_x
async def test_a_view_only_page_sends_no_input_frame_whatever_the_consultant_does(system, tmp_path, agents):
    display = Xvfb(800, 600)
    try:
        errors: list[str] = []
        async with chromium() as browser:
            page = await new_page(browser, errors=errors)
            opened = await open_session(system, page, tmp_path, username="maria", password=PASSWORD,
                                        scopes=("view",), env=display.env())
            agents.append(opened.agent)
            await page.wait_for_selector("#session.has-screen", timeout=20000)
            session_id = opened.request.session_id
            witness = tmp_path / "typed-by-a-view-only-consultant"
            pointer = display.pointer()

            # Keys, a paste, Enter; pointer moves, clicks, a wheel and keys on the screen; full screen too.
            await page.click("#terminal")
            await page.keyboard.type(f"touch {witness}\n")
            await page.keyboard.insert_text(f"touch {witness}\n")
            await page.evaluate("text => window.AssistSessionView.terminal.paste(text)", f"touch {witness}\n")
            box = await page.evaluate("() => { const r = document.getElementById('screen')"
                                      ".getBoundingClientRect(); return [r.left, r.top]; }")
            await page.mouse.move(box[0] + 50, box[1] + 60)
            await page.mouse.click(box[0] + 120, box[1] + 90, button="right")
            await page.mouse.wheel(0, 300)
            await page.dispatch_event("#screen", "keydown", {"key": "Enter"})
            await page.click("#fullscreen-button")
            await page.wait_for_function("() => document.fullscreenElement?.id === 'screen-box'")
            await page.mouse.click(400, 300)
            await page.keyboard.press("x")
            await page.evaluate("() => document.exitFullscreen()")
            # A frame the page does send, after all that: frames leave in order, so any input would be first.
            mark = len(opened.sent)
            await page.set_viewport_size({"width": 1000, "height": 900})

            def resized() -> bool:
                sent = opened.sent[mark:]
                return any(isinstance(p, bytes) and p[0] == 0 and b'"resize"' in p for p in sent)

            async with asyncio.timeout(10):
                while not resized():
                    await asyncio.sleep(0.05)

            assert 1 not in channels(opened.sent) and 3 not in channels(opened.sent), channels(opened.sent)
            assert refusals_logged(system, session_id) == []
            assert "refused" not in opened.agent.log()
            assert display.pointer() == pointer and not witness.exists()
            shown = await terminal_lines(page)
            assert not any("отказ" in line.lower() or "не е разрешено" in line for line in shown)

            # The same checks do see a refusal: a keystroke forged on a raw socket, the consultant's token.
            async with httpx.AsyncClient(base_url=system.gateway_url, timeout=15) as client:
                token = await login(client, "maria", PASSWORD)
            raw = await connect_consultant(system.gateway_url, session_id, token)
            try:
                await raw.send(console.keystrokes(f"touch {witness}\n"))
                refused = await next_control(raw, "refused")
                assert refused["what"] == "terminal"
            finally:
                await raw.close()
            async with asyncio.timeout(10):
                while not refusals_logged(system, session_id):
                    await asyncio.sleep(0.1)
            assert not witness.exists()
        assert errors == [], errors
    finally:
        display.stop()
