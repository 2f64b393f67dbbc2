"""Problem details in the reader's language: Accept-Language (q-values), else the pages' cookie, else English.

English is the services' own wording (the API's default); Bulgarian is said from the words of
web/words/customer.py: by the problem's `code`, field by field for a 422, else by status.
"""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest
from assist_gateway.web.problem_language import accepted_language, localize_problem, problem_language
from assist_gateway.web.words.customer import WORDS
from public_api import CUSTOMER

BG, EN = WORDS["bg"], WORDS["en"]
CYRILLIC = re.compile(r"[а-яА-Я]")


@pytest.mark.parametrize(("header", "expected"), [
    ("bg", "bg"),
    ("en", "en"),
    ("bg-BG,bg;q=0.9,en;q=0.8", "bg"),
    ("en-US,en;q=0.9,bg;q=0.95", "en"),          # en-US has q=1
    ("de-DE, bg;q=0.5, en;q=0.4", "bg"),          # the best language we speak
    ("de, en;q=0.1, bg;q=0.2", "bg"),
    ("bg;q=0, en", "en"),                          # q=0: "not this one"
    ("EN-gb;q=0.7, BG;q=0.7", "en"),              # a tie keeps the header's order
    ("de, fr", None),
    ("*", None),
    ("", None),
    ("bg;q=abc, en;q=0.5", "en"),                  # a broken q is no preference
    ("bg;q=1e309, en;q=0.2", "en"),                # so is a weight outside 0..1
    ("bg;q=2, en;q=0.2", "en"),
])
def test_accept_language_is_read_with_its_q_values(header, expected):
    assert accepted_language(header) == expected


def test_without_accept_language_the_cookie_then_english():
    assert problem_language({"cookie": "x=1; assist_lang=bg"}) == "bg"
    assert problem_language({"cookie": "assist_lang=en", "accept-language": "bg"}) == "bg"
    assert problem_language({"cookie": "assist_lang=en"}) == "en"
    # No preference: None, the services' own English.
    assert problem_language({"cookie": "assist_lang=de"}) is None
    assert problem_language({"accept-language": "fr"}) is None
    assert problem_language({}) is None


def test_without_a_preference_the_services_wording_and_in_a_language_by_code_fields_or_status():
    problem = {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "Terms version 'x' is not current",
               "code": "terms_version_not_current", "current_version": "2026-11-01"}
    assert localize_problem(problem, None) is problem
    said = localize_problem(problem, "en")
    assert said["title"] == EN["pr_title_409"]
    assert said["detail"] == EN["problem_terms_version_not_current"].replace("{current_version}", "2026-11-01")
    # English asked for: a detail without a code or fields stays the service's (it is English already).
    plain = {"status": 422, "title": "Invalid request", "detail": "Unknown service type 'x'."}
    assert localize_problem(plain, "en") == {**plain, "title": EN["pr_title_422"]}
    assert localize_problem(plain, "bg")["detail"] == BG["pr_detail_422"]
    said = localize_problem(problem, "bg")
    assert said["title"] == BG["pr_title_409"]
    assert said["detail"] == BG["problem_terms_version_not_current"].replace("{current_version}", "2026-11-01")
    assert said["code"] == "terms_version_not_current" and said["current_version"] == "2026-11-01"

    invalid = {"status": 422, "title": "Invalid request", "detail": "customer.name: ...", "errors": [
        {"loc": ["body", "customer", "name"], "type": "string_too_long", "max_length": 200, "problem": "x"},
        {"loc": ["body", "customer", "email"], "type": "string_pattern_mismatch", "problem": "x"},
        {"loc": ["scopes"], "type": "scopes_required", "problem": "x"},
        {"loc": ["body", "mystery", "0"], "type": "something_new", "problem": "x"},
    ]}
    said = localize_problem(invalid, "bg")
    parts = said["detail"].split("; ")
    assert parts[0] == f"{BG['pr_field_customer_name']}: " + BG["pr_type_string_too_long"].replace("{max_length}", "200")
    assert parts[1] == f"{BG['pr_field_customer_email']}: {BG['pr_type_email_pattern']}"
    assert parts[2] == f"{BG['pr_field_scopes']}: {BG['pr_type_scopes_required']}"
    assert parts[3] == BG["pr_field_unknown"].replace("{path}", "mystery") + f": {BG['pr_type_other']}"
    assert [error["problem"] for error in said["errors"]][1] == BG["pr_type_email_pattern"]

    # A code without words, a status without a code: the status's words; a placeholder never shows unfilled.
    assert localize_problem({"status": 403, "title": "Forbidden", "detail": "no", "code": "nobody_knows"}, "bg") == {
        "status": 403, "title": BG["pr_title_403"], "detail": BG["pr_detail_403"], "code": "nobody_knows"}
    said = localize_problem({"status": 429, "title": "Too many requests", "code": "queue_full"}, "bg")
    assert said["detail"] == BG["pr_detail_429"]
    said = localize_problem({"status": 429, "title": "Too many requests", "retry_after": 7}, "bg")
    assert said["detail"] == BG["pr_detail_429_wait"].replace("{retry_after}", "7")
    assert localize_problem({"status": 418, "title": "Teapot"}, "bg")["title"] == BG["pr_title_other"]


def help_request(**changes) -> dict:
    body = {"customer": dict(CUSTOMER), "service_type": "consultation", "description": "Не работи",
            "consent": {"accepted": True, "terms_version": "", "scopes": ["view", "control"]}}
    body.update(changes)
    return body


@pytest.mark.e2e
async def test_the_gateways_problems_follow_accept_language_then_the_cookie_then_english(start_system):
    system = start_system(extra_env={"HELP_REQUESTS_PER_ADDRESS": "6", "HELP_REQUESTS_WINDOW_SECONDS": "600"})
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        version = (await client.get("/api/v1/terms")).json()["version"]

        def with_version(body: dict) -> dict:
            body["consent"]["terms_version"] = body["consent"]["terms_version"] or version
            return body

        # No scope ticked: refused by the consent service (GrantInput's rule), said field by field.
        no_scopes = with_version(help_request())
        no_scopes["consent"]["scopes"] = []
        english = await client.post("/api/v1/help-requests", json=no_scopes)
        assert english.status_code == 422 and english.headers["content-type"].startswith("application/problem+json")
        assert english.headers["content-language"] == "en"
        body = english.json()
        assert body["title"] == "Invalid command" and body["detail"].startswith("scopes: at least one scope")
        assert body["errors"][0]["type"] == "scopes_required"
        bulgarian = await client.post("/api/v1/help-requests", json=no_scopes, headers={"Accept-Language": "bg"})
        assert bulgarian.headers["content-language"] == "bg" and "Accept-Language" in bulgarian.headers["vary"]
        assert bulgarian.json()["title"] == BG["pr_title_422"]
        assert bulgarian.json()["detail"] == f"{BG['pr_field_scopes']}: {BG['pr_type_scopes_required']}"

        # The cookie of the pages, without the header: Bulgarian; the header wins over the cookie.
        wrong = with_version(help_request(customer={"name": "", "email": "maria@", "phone": "088 ABC"}))
        client.cookies.set("assist_lang", "bg")
        by_cookie = await client.post("/api/v1/help-requests", json=wrong)
        assert by_cookie.status_code == 422
        assert by_cookie.json()["detail"] == "; ".join([
            f"{BG['pr_field_customer_name']}: {BG['pr_type_string_too_short']}",
            f"{BG['pr_field_customer_email']}: {BG['pr_type_email_pattern']}",
            f"{BG['pr_field_customer_phone']}: {BG['pr_type_phone_pattern']}",
        ])
        by_header = await client.post("/api/v1/help-requests", json=wrong, headers={"Accept-Language": "en-GB, bg;q=0.5"})
        assert by_header.headers["content-language"] == "en"
        assert by_header.json()["title"] == EN["pr_title_422"]
        assert by_header.json()["detail"] == "; ".join([
            f"{EN['pr_field_customer_name']}: {EN['pr_type_string_too_short']}",
            f"{EN['pr_field_customer_email']}: {EN['pr_type_email_pattern']}",
            f"{EN['pr_field_customer_phone']}: {EN['pr_type_phone_pattern']}",
        ])
        client.cookies.clear()
        # Without any preference: the services' own English, as API clients have always had it.
        plain = await client.post("/api/v1/help-requests", json=wrong)
        assert plain.headers["content-language"] == "en"
        assert plain.json()["title"] == "Invalid request" and plain.json()["detail"].startswith("customer.name: ")

        # A code from the consent service: the terms changed.
        stale = help_request()
        stale["consent"]["terms_version"] = "1999-01-01"
        refused = await client.post("/api/v1/help-requests", json=stale, headers={"Accept-Language": "bg;q=0.9"})
        assert refused.status_code == 409
        assert refused.json()["code"] == "terms_version_not_current"
        assert refused.json()["detail"] == BG["problem_terms_version_not_current"].replace("{current_version}", version)
        english = await client.post("/api/v1/help-requests", json=stale)
        assert english.json()["title"] == "Terms version not current" and "1999-01-01" in english.json()["detail"]

        # FastAPI's own 404 and 405, and a 413 from the body limit (a middleware, before any route).
        missing = await client.get("/api/v1/no-such-thing", headers={"Accept-Language": "bg"})
        assert missing.status_code == 404 and missing.json()["detail"] == BG["pr_detail_404"]
        wrong_method = await client.delete("/api/v1/terms", headers={"Accept-Language": "bg"})
        assert wrong_method.status_code == 405 and wrong_method.json()["title"] == BG["pr_title_405"]
        huge = await client.post("/api/v1/help-requests", content=b"{" + b" " * 70000 + b"}",
                                 headers={"Accept-Language": "bg", "Content-Type": "application/json"})
        assert huge.status_code == 413 and huge.json()["detail"] == BG["pr_detail_413"]
        assert int(huge.headers["content-length"]) == len(huge.content)

        # An unknown customer token, a session the session service does not know (through its command reply).
        headers = {"Accept-Language": "bg", "Authorization": "Bearer not-a-token"}
        unknown = await client.get("/api/v1/sessions/no-such-session", headers=headers)
        assert unknown.status_code == 401 and unknown.json()["title"] == BG["pr_title_401"]

        # The help-request limit of an address (6 here): the four above that passed the gateway's schema (no
        # scopes, stale terms) counted, the schema's 422s and the 413 did not; two more are let through.
        for _ in range(2):
            accepted = await client.post("/api/v1/help-requests", json=with_version(help_request()))
            assert accepted.status_code == 201, accepted.text
        throttled = await client.post("/api/v1/help-requests", json=with_version(help_request()),
                                      headers={"Accept-Language": "bg"})
        assert throttled.status_code == 429 and throttled.json()["code"] == "help_requests_throttled"
        wait = throttled.headers["retry-after"]
        assert throttled.json()["detail"] == BG["problem_help_requests_throttled"].replace("{retry_after}", wait)
        english = await client.post("/api/v1/help-requests", json=with_version(help_request()))
        assert english.status_code == 429 and "Too many help requests" in english.json()["detail"]

    # Every Bulgarian problem above is Bulgarian: a title and a detail with Cyrillic in them.
    for response in (bulgarian, by_cookie, refused, missing, wrong_method, huge, unknown, throttled):
        assert CYRILLIC.search(response.json()["title"]) and CYRILLIC.search(response.json()["detail"])


@pytest.mark.e2e
async def test_the_session_services_codes_reach_the_reader_in_words(start_system):
    """Problems raised by the session service travel in its command reply with their code: the waiting cap's 429 and
    an unknown session, said in Bulgarian at the gateway, the service's English without a preference."""
    system = start_system(extra_env={"SESSION_MAX_WAITING_REQUESTS": "1"})
    system.add_user("consultant", "vera", "vera-pass-long-1")
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        version = (await client.get("/api/v1/terms")).json()["version"]
        body = help_request()
        body["consent"]["terms_version"] = version
        assert (await client.post("/api/v1/help-requests", json=body)).status_code == 201
        full = await client.post("/api/v1/help-requests", json=body, headers={"Accept-Language": "bg"})
        assert full.status_code == 429 and full.json()["code"] == "queue_full"
        wait = full.headers["retry-after"]
        assert full.json()["detail"] == BG["problem_queue_full"].replace("{retry_after}", wait)
        english = await client.post("/api/v1/help-requests", json=body)
        assert english.json()["code"] == "queue_full" and english.json()["detail"].startswith("Too many help requests")

        token = (await client.post("/api/v1/auth/token",
                                   data={"username": "vera", "password": "vera-pass-long-1"})).json()["access_token"]
        unknown = await client.post("/api/v1/sessions/no-such-session/claim",
                                    headers={"Authorization": f"Bearer {token}", "Accept-Language": "bg"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "session_not_found"
        assert unknown.json()["title"] == BG["pr_title_404"]
        assert unknown.json()["detail"] == BG["problem_session_not_found"]
        english = await client.post("/api/v1/sessions/no-such-session/claim",
                                    headers={"Authorization": f"Bearer {token}"})
        assert english.json()["detail"] == "There is no session no-such-session."


@pytest.mark.e2e
async def test_the_customer_page_says_a_service_outage_as_a_page_in_its_language(start_system):
    """The consent service stops answering (SIGSTOP, a real hang): `/` is a 503 page in the page's language with a
    way to try again, not problem+json and not the platform's subject names; it comes back when the service does."""
    system = start_system(extra_env={"COMMAND_TIMEOUT_SECONDS": "1"})
    consent = system.services["consent"]["pid"]
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        os.kill(consent, signal.SIGSTOP)
        try:
            pages = {lang: await client.get("/", params={"lang": lang}) for lang in ("bg", "en")}
        finally:
            os.kill(consent, signal.SIGCONT)
        for lang, words in (("bg", BG), ("en", EN)):
            page = pages[lang]
            assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
            assert f'<h1 id="error-title">{words["pr_title_503"]}</h1>' in page.text
            assert f'<p id="error-detail">{words["pr_detail_503"]}</p>' in page.text
            assert f'href="/?lang={lang}"' in page.text and "cmd." not in page.text
        back = await client.get("/", params={"lang": "bg"})
        assert back.status_code == 200 and 'id="request-form"' in back.text
