"""The finance page in chromium, on a whole system: filtered records with h:mm:ss durations, localized status
options, a refused credit that keeps what was typed and the filters (in the page's language), an issued credit
note with its number and printable document, and the three exports checked as bytes (BOM, `;`, Cyrillic).

Screenshots: docs/screenshots/finance.png (a refused credit kept in the form) and credit-note.png (print look).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from billing_events import closed_records, publish_billed_session
from browser import SCREENSHOTS, chromium, new_page, staff_login
from public_api import bearer, login

pytestmark = pytest.mark.e2e

GERGANA = {"name": "Гергана Стоянова", "email": "gergana@пример.бг", "company": "Стоянови ЕООД"}
BOB = {"name": "Bob Example", "email": "bob@example.com"}


def spreadsheet_rows(raw: bytes) -> list[dict]:
    """docs/finance.md: the pages' files are UTF-8 with a BOM, `;` between cells, `"` quoting, CRLF."""
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and text.splitlines()[0].count(";") > 3
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


async def download(page, selector: str) -> bytes:
    async with page.expect_download() as started:
        await page.click(selector)
    return (await (await started.value).path()).read_bytes()


async def test_the_finance_page_filters_credits_keeps_errors_and_exports_what_it_shows(start_system):
    system = start_system()
    system.add_user("finance", "petar", "petar-pass-1")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    short_start, long_start = yesterday + timedelta(hours=9), yesterday + timedelta(hours=11)
    short = await publish_billed_session(system.nats_url, started_at=short_start,
                                         ended_at=short_start + timedelta(seconds=103), customer=GERGANA)
    long = await publish_billed_session(system.nats_url, started_at=long_start, service_type="system_help",
                                        ended_at=long_start + timedelta(hours=1, seconds=65), customer=GERGANA)
    old_start = today - timedelta(days=3, hours=-9)
    old = await publish_billed_session(system.nats_url, started_at=old_start,
                                       ended_at=old_start + timedelta(minutes=5), customer=BOB)
    base = system.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        token = await login(client, "petar", "petar-pass-1")
        records = await closed_records(client, bearer(token), [short, long, old])
    assert (records[short]["gross"], records[long]["gross"]) == ("18.00", "135.00")

    errors: list[str] = []
    filters = {"from": yesterday.date().isoformat(), "to": today.date().isoformat(), "customer": "гергана"}
    async with chromium() as browser:
        page = await new_page(browser, errors=errors)
        await staff_login(page, base, "/finance", "petar", "petar-pass-1")
        await page.fill("#f-from", filters["from"])
        await page.fill("#f-to", filters["to"])
        await page.fill("#f-customer", filters["customer"])
        await page.click("#filters button[type=submit]")
        await page.wait_for_url("**/finance?*customer=*")

        # The filter shows Gergana's two records of yesterday, never Bob's older one.
        assert await page.inner_text("#record-count") == "2"
        assert await page.locator(f"tr[data-session-id='{old}']").count() == 0
        short_row = page.locator(f"tr[data-session-id='{short}']")
        long_row = page.locator(f"tr[data-session-id='{long}']")
        assert await short_row.locator(".fi-duration").inner_text() == "0:01:43"
        assert await long_row.locator(".fi-duration").inner_text() == "1:01:05"
        assert await short_row.locator(".fi-service").inner_text() == "Консултация"  # the name, not the code
        assert await page.locator("#f-status option").all_inner_texts() == ["Приключени", "Текущи"]
        assert await page.inner_text("#total-gross") == "153,00"  # Bulgarian writes a decimal comma

        # A credit note: its number in the notice and beside the record, the filters kept.
        await short_row.locator("input[name=amount]").fill("6,00")
        await short_row.locator("input[name=reason]").fill("Прекъсната връзка")
        await short_row.locator("button[type=submit]").click()
        await page.wait_for_selector("#notice")
        number = re.search(r"CN-\d{4}-\d{6}", await page.inner_text("#issued-note"))[0]
        assert number == f"CN-{datetime.now(UTC).year}-000001"
        assert {key: value[0] for key, value in parse_qs(urlparse(page.url).query).items()
                if key in filters} == filters
        assert await page.input_value("#f-customer") == "гергана"
        assert await short_row.locator(".fi-note-link").inner_text() == number
        assert (await short_row.locator(".fi-credited").inner_text()).startswith("6,00")

        # A refused credit: the page comes back with the error beside its form, in Bulgarian, what was typed
        # still there, and the same filters.
        await long_row.locator("input[name=amount]").fill("999")
        await long_row.locator("input[name=reason]").fill("Твърде много")
        await long_row.locator("button[type=submit]").click()
        error = long_row.locator(".fi-credit-error")
        await error.wait_for()
        assert await error.inner_text() == "Сумата 999,00 е повече от оставащите за кредитиране 135,00."
        assert await long_row.locator("input[name=amount]").input_value() == "999"
        assert await long_row.locator("input[name=reason]").input_value() == "Твърде много"
        assert await short_row.locator(".fi-credit-error").count() == 0
        assert await page.input_value("#f-customer") == "гергана"
        assert await page.input_value("#f-from") == filters["from"]
        assert await page.inner_text("#record-count") == "2"
        await page.screenshot(path=str(SCREENSHOTS / "finance.png"))

        # The records export is what the page shows: the same two records, with durations and the credit.
        rows = spreadsheet_rows(await download(page, "#export-csv"))
        assert [row["session_id"] for row in rows] == [long, short]
        shown = {row["session_id"]: row for row in rows}
        assert (shown[short]["duration"], shown[short]["billable_seconds"]) == ("0:01:43", "103")
        assert (shown[short]["credited"], shown[short]["remaining"], shown[short]["credit_notes"]) == (
            "6,00", "12,00", number)
        assert (shown[long]["duration"], shown[long]["gross"], shown[long]["credit_notes"]) == ("1:01:05", "135,00", "")
        assert shown[short]["customer_name"] == "Гергана Стоянова"  # Cyrillic round trip
        # The period export: every record that ended in those days (not only this customer's), without credits.
        period = spreadsheet_rows(await download(page, "#export-period"))
        assert {row["session_id"] for row in period} == {short, long}
        assert "credited" not in period[0]
        notes = spreadsheet_rows(await download(page, "#export-credits"))
        assert [(row["number"], row["amount"], row["reason"]) for row in notes] == [(number, "6,00",
                                                                                     "Прекъсната връзка")]

        # The printable credit note.
        await short_row.locator(".fi-note-link").click()
        await page.wait_for_url("**/finance/credits/*")
        assert await page.inner_text("#note-number") == number
        assert await page.inner_text("#note-gross") == "6,00 EUR"
        assert (await page.inner_text("#note-net"), await page.inner_text("#note-vat")) == ("5,00 EUR", "1,00 EUR")
        assert await page.inner_text("#note-reason") == "Прекъсната връзка"
        assert await page.inner_text("#note-session") == short
        assert "Гергана Стоянова" in await page.inner_text("#note-customer")
        assert (await page.inner_text("#note-service")).startswith("Консултация")
        assert "18,00 EUR" in await page.inner_text("#note-original")
        assert await page.inner_text("#note-duration") == "0:01:43"
        assert await page.inner_text("#note-issued-by") == "petar"
        assert await page.locator("header.top").is_visible()
        await page.emulate_media(media="print")
        assert not await page.locator("header.top").is_visible()
        assert not await page.locator(".fi-note-actions").is_visible()
        await page.screenshot(path=str(SCREENSHOTS / "credit-note.png"), full_page=True)
        await page.emulate_media(media="screen")

        # In English, a too-short reason (the browser lets " x " through; the service trims it).
        await page.goto(f"{base}/finance?lang=en&customer=%D0%B3%D0%B5%D1%80%D0%B3%D0%B0%D0%BD%D0%B0")
        long_row = page.locator(f"tr[data-session-id='{long}']")
        await long_row.locator("input[name=amount]").fill("1.00")
        await long_row.locator("input[name=reason]").fill(" x ")
        await long_row.locator("button[type=submit]").click()
        await long_row.locator(".fi-credit-error").wait_for()
        assert await long_row.locator(".fi-credit-error").inner_text() == "The reason must be at least 3 characters."
        assert await page.locator("#f-status option").all_inner_texts() == ["Closed", "Running"]
        assert await long_row.locator("input[name=reason]").input_value() == " x "

    # The refused credits answered 409 and 422 (the page with the error), which chromium logs as failed loads.
    refusals = [e for e in errors if "/finance/credits?" in e and re.search(r"status of (409|422)", e)]
    assert len(refusals) == 2 and [e for e in errors if e not in refusals] == [], errors
