"""The console's clipboard panel as a consultant uses it (issue #17), in chromium with the real agent on an Xvfb
display: maria puts a Bulgarian command into the customer's clipboard (an application on the customer's display
pastes exactly it); she asks for the customer's clipboard, the customer presses S in the agent, and the console
shows exactly what the customer had copied, as text, and copies it to her own clipboard. Text too long never
leaves the page; the panel goes when the customer takes the clipboard back.
Screenshot: docs/screenshots/console-clipboard.png.
"""

from __future__ import annotations

import httpx
import pytest
from agent_flow import missing_x_tools
from assist_gateway.web.words.session_view import WORDS
from browser import SCREENSHOTS
from public_api import bearer
from remote_screen import remote_screen
from x_clipboard import copy, missing_xclip, pasted
from x_reader import missing_tk

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or ""),
    pytest.mark.skipif(missing_tk() is not None, reason=missing_tk() or ""),
    pytest.mark.skipif(missing_xclip() is not None, reason=missing_xclip() or ""),
]

BG = WORDS["bg"]
PUT = "sudo lpadmin -p Принтер_Офис -E\nlpstat -p"
COPIED_BY_THE_CUSTOMER = "Грешка <b>0x803C010B</b>: принтерът не отговаря\n\tпорт USB001"


async def status(page, state: str) -> str:
    await page.wait_for_selector(f"#clipboard-status[data-status='{state}']", timeout=20000)
    return await page.inner_text("#clipboard-status")


async def test_the_console_puts_text_into_the_customers_clipboard_and_gets_theirs_once_they_allow_it(
        start_system, tmp_path):
    system = start_system(shared=True)
    async with remote_screen(system, tmp_path, scopes=("view", "control", "clipboard")) as remote:
        page, display, agent = remote.page, remote.display, remote.agent
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await page.wait_for_selector("#clipboard", state="visible")

        await page.fill("#clipboard-text", PUT)
        await page.click("#clipboard-put")
        assert await status(page, "done") == BG["sv_clipboard_done"]
        assert pasted(display) == PUT
        await agent.wait_for_log(f'[clipboard] maria put {len(PUT)} characters into your clipboard: '
                                 f'"sudo lpadmin -p Принтер_Офис -E …"')

        copy(display, COPIED_BY_THE_CUSTOMER)
        await page.click("#clipboard-get")
        assert await status(page, "waiting") == BG["sv_clipboard_asking"]
        assert await page.is_disabled("#clipboard-get")  # one request at a time
        await agent.wait_for_log("Press S to send it, D to refuse.")
        agent.press(b"s")
        shown = await status(page, "received")
        assert shown == BG["sv_clipboard_received_count"].format(count=len(COPIED_BY_THE_CUSTOMER))
        assert await page.evaluate("() => document.getElementById('clipboard-received').textContent") == (
            COPIED_BY_THE_CUSTOMER)
        assert await page.locator("#clipboard-received b").count() == 0  # text, never markup
        await page.click("#clipboard-copy")
        await status(page, "copied")
        assert await page.evaluate("() => navigator.clipboard.readText()") == COPIED_BY_THE_CUSTOMER
        await page.fill("#clipboard-text", PUT)
        await page.locator("#clipboard").scroll_into_view_if_needed()
        await page.locator("#clipboard").screenshot(path=str(SCREENSHOTS / "console-clipboard.png"))

        # Too long for a transfer: the page says so, and nothing goes to the customer.
        await page.fill("#clipboard-text", "я" * 65537)
        await page.click("#clipboard-put")
        assert await status(page, "failed") == BG["sv_clipboard_err_too_long"].format(count=65537, max=65536)
        assert pasted(display) == COPIED_BY_THE_CUSTOMER
        assert agent.log().count("[clipboard] maria put") == 1

        # The customer takes the clipboard back: the panel goes, at once.
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
            taken = await customer.delete(f"/api/v1/sessions/{remote.session_id}/scopes/clipboard",
                                          headers=bearer(remote.customer_token))
        assert taken.status_code == 200, taken.text
        await page.wait_for_selector("#clipboard", state="hidden")
        assert await page.is_disabled("#clipboard-put")
        assert remote.errors == []
