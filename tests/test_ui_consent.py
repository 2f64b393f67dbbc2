"""The customer page asks for consent explicitly: the box starts unticked and the form is not sent without it."""

from __future__ import annotations

import pytest
from browser import checked_page, fill_request

pytestmark = pytest.mark.e2e


async def test_consent_box_is_unticked_and_the_request_is_not_sent_without_it(start_system):
    system = start_system(shared=True)
    async with checked_page() as page:
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url) if "/help-requests" in request.url else None)
        await page.goto(system.gateway_url + "/")

        assert await page.is_checked("#consent") is False
        assert await page.locator("#terms").inner_text() != ""
        await fill_request(page)
        await page.click("#submit-request")
        await page.wait_for_timeout(500)  # give a wrongly sent request time to leave

        assert sent == []
        assert await page.is_visible("#request-section")
        assert await page.is_hidden("#status-section")
        # The browser itself refuses: the box is required.
        assert await page.eval_on_selector("#consent", "box => box.validity.valueMissing") is True

        await page.check("#consent")
        await page.click("#submit-request")
        await page.wait_for_selector("#session-code", state="visible")
        assert sent and (await page.inner_text("#session-code")).replace(" ", "").isdigit()


async def test_english_is_a_switch_away_and_pages_carry_the_security_headers(start_system):
    system = start_system(shared=True)
    async with checked_page() as page:
        response = await page.goto(system.gateway_url + "/")
        assert await page.get_attribute("html", "lang") == "bg"
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'self'" in csp
        await page.click("text=English")
        assert await page.get_attribute("html", "lang") == "en"
        assert await page.is_visible("text=Request remote assistance")
        await page.goto(system.gateway_url + "/")  # the cookie remembers the choice
        assert await page.get_attribute("html", "lang") == "en"
