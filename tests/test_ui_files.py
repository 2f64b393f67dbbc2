"""File transfer as its people use it (issue #17), in chromium with the real agent: the customer asks for help on a
320 px phone in Bulgarian with `files` allowed; elena picks a file in the console's Files panel and sends it; the
agent asks the customer, who saves it (A); the file is on disk with the offer's SHA-256 (hashed in the page), the
console says done and the customer's page shows the transfer with its name, size and status. elena then asks for a
file of the customer's by its path; the customer allows it (A) and the console offers it to save, whole. A file the
customer refuses (R), and one cut when the customer takes files back on their page, leave nothing on disk and the
console says what became of them.
Screenshots: docs/screenshots/console-files.png and customer-files-320px.png.
"""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from agent_flow import AgentProcess
from browser import SCREENSHOTS, chromium, fill_request, new_page, staff_login
from console_session import CONNECTED
from phone_story import PHONE, STORE
from public_api import bearer, login

pytestmark = pytest.mark.e2e

PASSWORD = "elena-pass-123"


async def test_a_file_each_way_between_console_agent_and_the_customers_page(start_system, tmp_path, agents):
    system = start_system(shared=True)
    system.add_user("consultant", "elena", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    payload = os.urandom(2 * 1024 * 1024 + 4321)
    source = tmp_path / "настройки принтер.bin"
    source.write_bytes(payload)
    report = os.urandom(300_000)
    (home / "отчет.pdf").write_bytes(report)
    async with chromium() as browser:
        phone = await browser.new_context(viewport=PHONE)
        customer = await phone.new_page()
        customer.on("pageerror", lambda error: errors.append(str(error)))
        await customer.goto(base + "/")
        await fill_request(customer, name="Мария Иванова")
        await customer.check("#scope-files")
        await customer.check("#consent")
        await customer.click("#submit-request")
        await customer.wait_for_selector("#status-section", state="visible")
        saved = await customer.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE}'))")
        agent = AgentProcess(gateway=base, code=saved["session_code"], log_dir=tmp_path,
                             env={**os.environ, "HOME": str(home)})
        agents.append(agent)
        await agent.wait_for_log("[waiting for the consultant]", timeout=30)

        console = await new_page(browser, errors=errors)
        async with httpx.AsyncClient(base_url=base, timeout=15) as staff:
            token = await login(staff, "elena", PASSWORD)
            claimed = await staff.post(f"/api/v1/sessions/{saved['session_id']}/claim", headers=bearer(token))
            assert claimed.status_code == 200, claimed.text
        await staff_login(console, base, "/console", "elena", PASSWORD)
        await console.goto(f"{base}/console/session/{saved['session_id']}")
        await console.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=30000)

        # To the customer: elena picks the file and sends it; the customer saves it with A.
        await console.wait_for_selector("#files", state="visible")
        await console.set_input_files("#file-pick", str(source))
        await console.click("#file-send")
        await agent.wait_for_log("A: save to ~/Downloads, F: choose a folder, R: refuse.", timeout=30)
        row = console.locator("#file-transfers li[data-direction='to_customer']")
        assert await row.get_attribute("data-status") == "offered"
        agent.press(b"a")
        await console.wait_for_selector("#file-transfers li[data-direction='to_customer'][data-status='done']",
                                        timeout=60000)
        on_disk = home / "Downloads" / source.name
        assert hashlib.sha256(on_disk.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()
        sent = [t for t in await console.evaluate("() => window.AssistFiles.transfers")
                if t["direction"] == "to_customer"][0]
        assert sent["sha256"] == hashlib.sha256(payload).hexdigest() == sent["received"]

        # The customer's page shows it: name, size, direction and status, in Bulgarian, on a 320 px phone.
        shown = customer.locator("#customer-file-list li[data-status='done']")
        await shown.wait_for(timeout=15000)
        assert await shown.get_attribute("data-name") == source.name
        assert await shown.get_attribute("data-size") == str(len(payload))
        assert "↓ към вас" in await shown.inner_text() and "готово" in await shown.inner_text()

        # From the customer: elena asks for a file by its path; the customer allows it with A.
        await console.fill("#file-request-path", "~/отчет.pdf")
        await console.click("#file-request")
        await agent.wait_for_log("A: send it, R: refuse.", timeout=30)
        agent.press(b"a")
        download = console.locator("#file-transfers li[data-direction='from_customer'][data-status='done'] a")
        await download.wait_for(timeout=30000)
        async with console.expect_download() as waiting:
            await download.click()
        got = await (await waiting.value).path()
        assert hashlib.sha256(open(got, "rb").read()).hexdigest() == hashlib.sha256(report).hexdigest()
        await customer.locator("#customer-file-list li[data-direction='from_customer'][data-status='done']").wait_for(
            timeout=15000)

        await console.locator("#files").scroll_into_view_if_needed()
        await console.locator("#files").screenshot(path=str(SCREENSHOTS / "console-files.png"))
        await customer.locator("#customer-files").scroll_into_view_if_needed()
        await customer.screenshot(path=str(SCREENSHOTS / "customer-files-320px.png"))
        width = await customer.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the customer's page scrolls sideways at 320 px"

        # A file the customer refuses (R): the console says so, nothing is written.
        refused = tmp_path / "refused.txt"
        refused.write_bytes(b"not wanted")
        await console.set_input_files("#file-pick", str(refused))
        await console.click("#file-send")
        await agent.wait_for_log("[file] elena sends you refused.txt", timeout=30)
        agent.press(b"r")
        await console.wait_for_selector("#file-transfers li[data-name='refused.txt'][data-status='refused']")
        await customer.locator("#customer-file-list li[data-name='refused.txt'][data-status='refused']").wait_for(
            timeout=15000)

        # The customer takes files back on their page while a file waits for the agent's answer: the console's
        # transfer stops and says why, its controls go, and the agent forgets the question.
        waiting = tmp_path / "later.zip"
        waiting.write_bytes(os.urandom(100_000))
        await console.set_input_files("#file-pick", str(waiting))
        await console.click("#file-send")
        await agent.wait_for_log("[file] elena sends you later.zip", timeout=30)
        await customer.click("#withdraw-files")
        stopped = console.locator("#file-transfers li[data-name='later.zip'][data-status='cancelled']")
        await stopped.wait_for(timeout=15000)
        assert "клиентът оттегли разрешението за файлове" in await stopped.inner_text()
        assert await console.is_hidden("#file-controls")
        await agent.wait_for_log("no longer waits for the customer: scope", timeout=15)
        agent.press(b"a")  # too late: nothing is saved
        await customer.locator("#customer-file-list li[data-name='later.zip'][data-status='cancelled']").wait_for(
            timeout=15000)
        assert os.listdir(home / "Downloads") == [source.name]  # neither the refused file nor the one cut
        assert errors == []
        await phone.close()
