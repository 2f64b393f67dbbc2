"""The whole story through the pages, with a real `assist agent`: request with consent, live queue, claim,
a command in the customer's terminal, the customer ends, the console says so within a second, finance bills it.
Screenshots of the pages are written to docs/screenshots/ (shown in the README), the customer's also at 320 px.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from browser import SCREENSHOTS, chromium, fill_request, new_page, staff_login

pytestmark = pytest.mark.e2e
ASSIST = str(Path(sys.executable).parent / "assist")


def start_agent(system, code: str, log_path: Path) -> subprocess.Popen:
    env = {**system.env, "SHELL": "/bin/sh", "TERM": "xterm-256color"}
    env.pop("DISPLAY", None)  # no screen capture in CI: the agent says so and the console shows it
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [ASSIST, "agent", "--gateway", system.gateway_url, "--code", code],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )


async def terminal_text(page) -> str:
    return await page.locator("#terminal .xterm-rows").inner_text()


async def wait_for_terminal(page, needle: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = await terminal_text(page)
        if needle in text:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in the terminal:\n{text}")
        await asyncio.sleep(0.1)


async def test_the_whole_story_through_the_pages_with_a_real_agent(start_system, tmp_path):
    system = start_system()
    system.add_user("consultant", "elena", "elena-pass-1")
    system.add_user("finance", "petar", "petar-pass-1")
    base = system.gateway_url
    errors: list[str] = []
    agent = None
    async with chromium() as browser:
        console = await new_page(browser, errors=errors)
        await staff_login(console, base, "/console", "elena", "elena-pass-1")
        await console.wait_for_selector("#live-state.ok")

        customer = await new_page(browser, errors=errors)
        await customer.goto(base + "/")
        await fill_request(customer)
        await customer.check("#consent")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # (The request page's screenshots, desktop and phone, are tests/test_ui_customer_form.py's.)
        await customer.click("#submit-request")
        await customer.wait_for_selector("#session-code", state="visible")
        code = (await customer.inner_text("#session-code")).replace(" ", "")

        # The queue updates by itself: no reload on the console.
        row = console.locator("#queue-rows tr", has_text="Мария Иванова")
        await row.wait_for(timeout=5000)
        await row.locator("button").click()
        await console.wait_for_url("**/console/session/*")

        agent = start_agent(system, code, tmp_path / "agent.log")
        try:
            await console.wait_for_selector("#relay-state:has-text('Агентът е свързан')", timeout=20000)
            await console.click("#terminal")
            await console.keyboard.type("echo ui-story-$((6*7))\n")
            await wait_for_terminal(console, "ui-story-42")
            await customer.wait_for_selector("#status-text:has-text('Свързан с elena')", timeout=10000)
            await customer.wait_for_function("() => document.getElementById('elapsed').textContent !== '—'")
            saved = await customer.evaluate("() => JSON.parse(localStorage.getItem('assist.customer.session'))")
            async with httpx.AsyncClient(base_url=base) as client:
                view = (await client.get(f"/api/v1/sessions/{saved['session_id']}",
                                         headers={"Authorization": f"Bearer {saved['customer_token']}"})).json()
            assert view["status"] == "active" and view["consultant"] == "elena"
            assert await customer.get_attribute("#status-text", "data-status") == "active"

            # console-session.png is tests/test_ui_session_view.py's: there the agent has a screen to show.
            await customer.screenshot(path=str(SCREENSHOTS / "customer-session.png"), full_page=True)
            # The same customer on a phone (320 px, the same browser): `/` offers the open session, nothing wider.
            phone = await customer.context.new_page()
            await phone.set_viewport_size({"width": 320, "height": 860})
            await phone.goto(base + "/")
            await phone.wait_for_selector("#status-text[data-status='active']")
            await phone.wait_for_function("() => document.getElementById('elapsed').textContent !== '—'")
            assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 320
            await phone.screenshot(path=str(SCREENSHOTS / "customer-session-phone.png"), full_page=True)
            await phone.close()

            ended_at = time.monotonic()
            await customer.click("#end-session")
            await console.wait_for_selector("#ended-banner:has-text('Клиентът прекрати сесията')", timeout=1000)
            assert time.monotonic() - ended_at < 1.0

            # No input any more: keys are refused by the view, and nothing reaches the customer's shell.
            before = await terminal_text(console)
            await console.click("#terminal")
            await console.keyboard.type("echo after-the-end\n")
            assert await console.get_attribute("#session", "data-input") == "closed"
            assert await console.evaluate("() => document.querySelector('#terminal .xterm') !== null")
            await asyncio.sleep(0.5)
            assert "after-the-end" not in await terminal_text(console)
            assert await terminal_text(console) == before
            # Keys on the screen canvas are refused by the view too (counted, never sent). This agent has no screen,
            # so the page hides the canvas: the key is dispatched to it.
            await console.dispatch_event("#screen", "keydown", {"key": "a"})
            assert int(await console.get_attribute("#session", "data-refused-input") or 0) > 0

            await customer.wait_for_selector("#summary-section", state="visible")
            currency = await customer.input_value("#currency")
            await customer.wait_for_selector(f"#summary-amount:has-text('{currency}')", timeout=20000)
            # The ended view says what the API says: the customer ended it, and the bill is billing's.
            async with httpx.AsyncClient(base_url=base) as client:
                auth = {"Authorization": f"Bearer {saved['customer_token']}"}
                view = (await client.get(f"/api/v1/sessions/{saved['session_id']}", headers=auth)).json()
                report = (await client.get(f"/api/v1/sessions/{saved['session_id']}/report", headers=auth)).json()
            assert view["ended_by"] == "customer"
            assert await customer.get_attribute("#ended-text", "data-ended-by") == "customer"
            assert await customer.inner_text("#summary-ended-by") == "вас"
            # Billing's amount, written as Bulgarian writes it (a decimal comma, as in the price table).
            shown = await customer.inner_text("#summary-amount")
            assert shown.startswith(f"{report['gross'].replace('.', ',')} {report['currency']}"), shown
            await customer.wait_for_function("() => document.getElementById('receipt-revoked').textContent !== '—'")
            await customer.screenshot(path=str(SCREENSHOTS / "customer-summary.png"), full_page=True)
            async with customer.expect_download() as receipt:
                await customer.click("#download-receipt")
            assert (await (await receipt.value).path()).read_text().strip().startswith("{")
        finally:
            agent.terminate()
            agent.wait(timeout=15)

        finance = await new_page(browser, errors=errors)
        await staff_login(finance, base, "/finance", "petar", "petar-pass-1")
        session_id = console.url.rsplit("/", 1)[-1]
        deadline = time.monotonic() + 20
        while not await finance.locator(f"tr[data-session-id='{session_id}']").count():
            assert time.monotonic() < deadline, "the closed record never showed on the finance page"
            await asyncio.sleep(0.5)
            await finance.reload()
        # (The finance page's screenshot is tests/test_ui_finance.py's, with filters, both exports and a kept error.)
        async with finance.expect_download() as download:
            await finance.click("#export-csv")
        csv_text = (await (await download.value).path()).read_text()
        assert session_id in csv_text

    assert errors == [], errors
    assert os.path.exists(SCREENSHOTS / "customer-session.png")
