"""The customer page's form speaks the page's language: its own messages next to each field (not the browser's
bubble), the terms rendered from Markdown, the prices as a table that fits a phone, and the gateway's problems
said in the page's words.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest
from assist_gateway.web.words.customer import WORDS
from browser import SCREENSHOTS, checked_page, chromium, fill_request, new_page

pytestmark = pytest.mark.e2e
BG, EN = WORDS["bg"], WORDS["en"]
PHONE = {"width": 320, "height": 640}


async def sent_help_requests(page) -> list[str]:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/help-requests" in request.url else None)
    return sent


async def field_state(page, field_id: str) -> dict:
    return await page.evaluate(
        """id => {
          const field = document.getElementById(id);
          const note = document.getElementById(field.dataset.errorId || `${id}-error`);
          return { invalid: field.getAttribute("aria-invalid"), described: field.getAttribute("aria-describedby") || "",
                   message: note.hidden ? "" : note.textContent };
        }""",
        field_id,
    )


async def message_of(page, note_id: str) -> str:
    return await page.evaluate("id => { const n = document.getElementById(id); return n.hidden ? '' : n.textContent; }",
                               note_id)


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):.2f}".replace(".", ",")


async def test_the_form_says_what_is_wrong_next_to_each_field_in_bulgarian(start_system):
    system = start_system(shared=True)
    async with checked_page() as page:
        sent = await sent_help_requests(page)
        await page.goto(system.gateway_url + "/")
        # The page validates, not the browser: no bubble in the browser's language.
        assert await page.evaluate("document.getElementById('request-form').noValidate") is True

        await page.uncheck("#scope-view")
        await page.uncheck("#scope-control")
        await page.click("#submit-request")
        await page.wait_for_selector("#form-error:not([hidden])")
        assert await page.inner_text("#form-error") == BG["cp_form_invalid"]
        expected = {
            "name": BG["cp_err_name_required"], "email": BG["cp_err_email_required"],
            "description": BG["cp_err_description_required"], "consent": BG["cp_err_consent_required"],
        }
        for field_id, message in expected.items():
            state = await field_state(page, field_id)
            assert state["message"] == message, (field_id, state)
            assert state["invalid"] == "true" and f"{field_id}-error" in state["described"].split(), (field_id, state)
        assert await message_of(page, "scopes-error") == BG["cp_err_scope_required"]
        assert await page.get_attribute("#scope-view", "aria-invalid") == "true"
        # Optional fields that are empty are fine.
        assert (await field_state(page, "company"))["invalid"] is None
        assert (await field_state(page, "phone"))["invalid"] is None
        # The focus is on the first wrong field.
        assert await page.evaluate("document.activeElement.id") == "name"
        assert sent == []

        # Typing the name right clears its message at once; a wrong e-mail and phone get theirs.
        await page.fill("#name", "Мария Иванова")
        assert (await field_state(page, "name")) == {"invalid": None, "described": "name-error", "message": ""}
        await page.fill("#email", "maria@example")
        await page.fill("#phone", "088 ABC")
        await page.fill("#description", "Не тръгва")
        await page.click("#submit-request")
        assert (await field_state(page, "email"))["message"] == BG["cp_err_email_format"]
        assert (await field_state(page, "phone"))["message"] == BG["cp_err_phone_format"]
        assert await page.evaluate("document.activeElement.id") == "email"

        await page.fill("#email", "maria@example.com")
        await page.fill("#phone", "+359 88 123 4567")
        await page.click("#submit-request")
        # Only the scopes and the consent are left; the scopes come first.
        assert await page.evaluate("document.activeElement.id") == "scope-view"
        assert await message_of(page, "email-error") == ""
        await page.check("#scope-view")
        assert await message_of(page, "scopes-error") == ""
        await page.click("#submit-request")
        assert await page.evaluate("document.activeElement.id") == "consent"
        assert await message_of(page, "consent-error") == BG["cp_err_consent_required"]
        assert sent == []

        await page.check("#consent")
        assert await message_of(page, "consent-error") == ""
        await page.click("#submit-request")
        await page.wait_for_selector("#session-code", state="visible")
        assert len(sent) == 1


async def test_english_messages_and_a_problem_of_the_gateway_in_the_pages_language(start_system):
    system = start_system(shared=True)
    # The browser logs the refused request itself (a 409 resource); nothing else may go wrong.
    async with checked_page(expected="status of 409") as page:
        await page.goto(system.gateway_url + "/?lang=en")
        await page.click("#submit-request")
        assert await page.inner_text("#form-error") == EN["cp_form_invalid"]
        assert (await field_state(page, "name"))["message"] == EN["cp_err_name_required"]
        assert await message_of(page, "consent-error") == EN["cp_err_consent_required"]

        # The terms changed since the page was loaded: the gateway's 409 is said in the page's words.
        current = (await httpx.AsyncClient(base_url=system.gateway_url).get("/api/v1/terms")).json()["version"]
        for lang, words in (("en", EN), ("bg", WORDS["bg"])):
            await page.goto(f"{system.gateway_url}/?lang={lang}")
            await fill_request(page)
            await page.check("#consent")
            await page.evaluate("document.getElementById('terms_version').value = '1999-01-01'")
            await page.click("#submit-request")
            await page.wait_for_selector("#form-error:not([hidden])")
            shown = await page.inner_text("#form-error")
            assert shown == words["problem_terms_version_not_current"].replace("{current_version}", current), shown
            assert await page.is_visible("#request-section")


async def test_the_terms_are_rendered_and_the_prices_are_a_table_of_the_price_list(start_system):
    system = start_system(shared=True)
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        terms = (await client.get("/api/v1/terms", params={"lang": "bg"})).json()
        prices = (await client.get("/api/v1/price-list", params={"lang": "bg"})).json()
    vat = Decimal(prices["vat_rate"])
    async with chromium() as browser:
        page = await new_page(browser, errors=errors)
        await page.goto(system.gateway_url + "/")

        # The Markdown's headings are headings, not `#` signs; the text is the consented source's.
        first_heading = terms["text"].splitlines()[0].removeprefix("# ")
        assert await page.inner_text("#terms h1") == first_heading
        sections = [line.removeprefix("## ") for line in terms["text"].splitlines() if line.startswith("## ")]
        assert await page.locator("#terms h2").all_inner_texts() == sections
        shown = await page.inner_text("#terms")
        assert "#" not in shown and "**" not in shown
        assert await page.locator("#terms script, #terms img, #terms style, #terms iframe").count() == 0

        # One row per service of the price list, with the price list's numbers.
        rows = page.locator("#price-table tbody tr")
        assert await rows.count() == len(prices["service_types"])
        for index, service in enumerate(prices["service_types"]):
            row = rows.nth(index)
            net = Decimal(service["unit_price"])
            assert await row.locator("th").inner_text() == service["name"]
            assert await row.locator(".price-net").inner_text() == f"{money(net)} {prices['currency']}"
            gross = await row.locator(".price-gross").inner_text()
            assert gross.startswith(f"{money(net * (1 + vat))} {prices['currency']}"), gross
            assert f"{vat * 100:.0f} %" in gross
            minutes = service["unit_seconds"] // 60
            assert await row.locator("td").nth(0).inner_text() == BG["cp_price_unit_value"].format(minutes=minutes)
            assert await row.locator("td").nth(2).inner_text() == BG["cp_price_minimum_value"].format(
                units=service["minimum_units"], minutes=service["minimum_units"] * minutes)
        # The dropdown names the services only: nothing to cut off.
        options = await page.locator("#service_type option").all_inner_texts()
        assert [text.strip() for text in options] == [service["name"] for service in prices["service_types"]]

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "customer-request.png"), full_page=True)

        # A phone: the rows stack, nothing is wider than the screen, and a message of the form shows.
        phone = await browser.new_page(viewport=PHONE)
        phone.on("pageerror", lambda error: errors.append(str(error)))
        await phone.goto(system.gateway_url + "/")
        assert await phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        table = await phone.locator("#price-table").bounding_box()
        assert table and table["x"] >= 0 and table["x"] + table["width"] <= PHONE["width"]
        # Stacked: each value is labelled on its own line (the column headings are only for screen readers).
        label = await phone.evaluate(
            "getComputedStyle(document.querySelector('#price-table td.price-net'), '::before').content")
        assert label == '"' + BG["cp_price_net"] + '"'
        await phone.fill("#name", "Мария Иванова")
        await phone.fill("#email", "maria@example")
        await phone.click("#submit-request")
        assert await message_of(phone, "email-error") == BG["cp_err_email_format"]
        assert await phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        await phone.locator("#price-table").scroll_into_view_if_needed()
        await phone.screenshot(path=str(SCREENSHOTS / "customer-phone.png"), full_page=True)
        await phone.close()
    assert errors == []


async def test_a_field_the_gateway_refuses_gets_the_gateways_words_next_to_it(start_system):
    """A rule only the gateway knows (here: the page's length limit removed) comes back in the 422's `errors`, said
    in the page's language by the gateway, and stands next to its field with the focus on it."""
    system = start_system(shared=True)
    async with checked_page(expected="status of 422") as page:
        sent = await sent_help_requests(page)
        await page.goto(system.gateway_url + "/")
        await fill_request(page)
        await page.check("#consent")
        await page.evaluate("document.getElementById('name').removeAttribute('maxlength')")
        await page.fill("#name", "М" * 201)
        await page.focus("#submit-request")
        await page.click("#submit-request")
        await page.wait_for_selector("#name-error:not([hidden])")
        expected = BG["pr_type_string_too_long"].replace("{max_length}", "200")
        assert (await field_state(page, "name")) == {"invalid": "true", "described": "name-error", "message": expected}
        assert await page.inner_text("#form-error") == f"{BG['pr_field_customer_name']}: {expected}"
        assert await page.evaluate("document.activeElement.id") == "name"
        assert len(sent) == 1 and await page.is_visible("#request-section")
