"""The first steps of a story played in chromium with the real agent: a customer asks for help on a 320 px phone
page (Bulgarian), runs the agent with the code the page shows, and a consultant claims the request and opens its
session page in the console, the agent connected."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from agent_flow import AgentProcess
from browser import fill_request, new_page, staff_login
from console_session import CONNECTED
from public_api import bearer, login

PHONE = {"width": 320, "height": 640}
STORE = "assist.customer.session"


@dataclass
class PhoneStory:
    phone: object  # the customer's browser context
    customer: object  # their page
    saved: dict  # what the page keeps of the request: session id, code, customer token
    agent: AgentProcess


async def customer_asks_on_the_phone(browser, base: str, tmp_path, *, errors: list[str], control: bool = True,
                                     before_consent=None) -> PhoneStory:
    """The request form filled and consented to (with `control` or watching only), and the agent waiting; an
    awaitable `before_consent(page)` looks at the form first."""
    phone = await browser.new_context(viewport=PHONE)
    customer = await phone.new_page()
    customer.on("pageerror", lambda error: errors.append(str(error)))
    await customer.goto(base + "/")
    if before_consent is not None:
        await before_consent(customer)
    await fill_request(customer, name="Мария Иванова")
    if not control:
        await customer.uncheck("#scope-control")
    await customer.check("#consent")
    await customer.click("#submit-request")
    await customer.wait_for_selector("#status-section", state="visible")
    saved = await customer.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE}'))")
    agent = AgentProcess(gateway=base, code=saved["session_code"], log_dir=tmp_path)
    await agent.wait_for_log("[waiting for the consultant]", timeout=30)
    return PhoneStory(phone=phone, customer=customer, saved=saved, agent=agent)


async def consultant_opens_it(browser, base: str, story: PhoneStory, *, username: str, password: str,
                              errors: list[str]):
    """The consultant claims the request and has its session page open, the agent connected."""
    console = await new_page(browser, errors=errors)
    async with httpx.AsyncClient(base_url=base, timeout=15) as staff:
        token = await login(staff, username, password)
        claimed = await staff.post(f"/api/v1/sessions/{story.saved['session_id']}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    await staff_login(console, base, "/console", username, password)
    await console.goto(f"{base}/console/session/{story.saved['session_id']}")
    await console.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=30000)
    return console
