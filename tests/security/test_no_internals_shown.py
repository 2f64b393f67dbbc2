"""No page and no problem shows the platform's insides: no Python type or model name, no traceback, no pydantic
wording or URL. A crawl over every page (customer, login, console, supervisor, finance, error answers) and a battery
of bad API requests (wrong types, missing fields, no scopes, unknown codes, bad JSON, wrong content type, huge
bodies, every operation of the API with junk), each in Bulgarian and English; every body is checked, and every
Bulgarian problem must be Bulgarian (its title and detail in Cyrillic).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re

import httpx
import pytest
from identities import staff_tokens
from public_api import CUSTOMER, bearer, request_help
from pydantic import BaseModel

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

LANGUAGES = ("bg", "en")
CYRILLIC = re.compile(r"[а-яА-Я]")
# What only the code should know: Python's and pydantic's words.
INTERNAL_WORDS = (
    "Traceback", "<class", "NoneType", "errors.pydantic.dev", "pydantic", "ValidationError", "validation error for",
    "Input should be", "Value error,", "Field required", "model_type", "File \"/", ".py\"", "sqlalchemy",
    "sqlite3", "psycopg", "asyncio", "KeyError", "TypeError", "ValueError", "AttributeError",
)
MODEL_MODULES = (
    "assist_gateway.schemas", "assist_gateway.api.auth", "assist_gateway.api.finance", "assist_gateway.api.staff_routes",
    "assist_consent.commands", "assist_session.commands", "assist_billing.commands",
)


def model_names() -> set[str]:
    """The names of the input and output models (CamelCase names only: `Customer` is also an English word)."""
    names = set()
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseModel) and re.fullmatch(r"_?[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+", name):
                names.add(name.lstrip("_"))
    assert {"GrantInput", "HelpRequestIn", "CustomerIn"} <= names, names
    return names


MODELS = model_names()
MODEL_NAME = re.compile(r"\b(?:" + "|".join(sorted(MODELS)) + r")\b")
# Python's own names (`__init__`, `__class__`, `__root__`): a bare "__" also occurs in random tokens.
DUNDER = re.compile(r"__[A-Za-z][A-Za-z0-9_]*?__")
# The pages' random CSRF values (base64url: `_` is one of its letters) are not the code's words.
RANDOM_VALUES = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]*"')


def leaks(text: str) -> list[str]:
    text = RANDOM_VALUES.sub(r'\1"', text)
    found = [word for word in INTERNAL_WORDS if word in text]
    found += MODEL_NAME.findall(text) + DUNDER.findall(text)
    return found


def check(response: httpx.Response, lang: str, seen: list[str], what: str) -> None:
    """Nothing internal in the body; a Bulgarian problem is Bulgarian; a problem is never a 5xx."""
    label = f"{what} [{lang}] -> {response.status_code}"
    seen.append(label)
    text = response.text
    assert not leaks(text), f"{label} shows {leaks(text)}:\n{text[:2000]}"
    assert response.status_code < 500 or response.status_code == 503, f"{label}:\n{text[:2000]}"
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        problem = response.json()
        assert problem["title"] and problem.get("detail"), f"{label}: {problem}"
        if lang == "bg":
            assert CYRILLIC.search(problem["title"]) and CYRILLIC.search(problem["detail"]), f"{label}: {problem}"


def help_request(version: str, **changes) -> dict:
    body = {"customer": dict(CUSTOMER), "service_type": "consultation", "description": "Не работи",
            "consent": {"accepted": True, "terms_version": version, "scopes": ["view", "control"]}}
    body.update(changes)
    return body


def bad_help_requests(version: str) -> list[tuple[str, dict]]:
    """(what, httpx request arguments) of help requests that must be refused in words."""
    def changed(**changes) -> dict:
        return {"json": help_request(version, **changes)}

    def consent(**changes) -> dict:
        return changed(consent={"accepted": True, "terms_version": version, "scopes": ["view"], **changes})

    def customer(**changes) -> dict:
        return changed(customer={**CUSTOMER, **changes})

    nested = "[" * 5000 + "]" * 5000
    return [
        ("empty object", {"json": {}}),
        ("a list", {"json": []}),
        ("null", {"content": b"null", "headers": {"Content-Type": "application/json"}}),
        ("a string", {"json": "help"}),
        ("customer as a string", changed(customer="Мария")),
        ("customer missing", {"json": {k: v for k, v in help_request(version).items() if k != "customer"}}),
        ("e-mail missing", customer(email=None)),
        ("e-mail wrong", customer(email="maria@")),
        ("phone wrong", customer(phone="call me")),
        ("name too long", customer(name="М" * 201)),
        ("name a number", customer(name=12)),
        ("description a number", changed(description=123)),
        ("description empty", changed(description="")),
        ("service type null", changed(service_type=None)),
        ("unknown service type", changed(service_type="nope")),
        ("consent missing", {"json": {k: v for k, v in help_request(version).items() if k != "consent"}}),
        ("consent as yes", consent(accepted="yes")),
        ("consent false", consent(accepted=False)),
        ("no scopes", consent(scopes=[])),
        ("scopes a string", consent(scopes="view")),
        ("unknown scope", consent(scopes=["root"])),
        ("repeated scope", consent(scopes=["view", "view"])),
        ("unknown terms version", consent(terms_version="1999-01-01")),
        ("terms version a list", consent(terms_version=["x"])),
        ("bad JSON", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("JSON as text/plain", {"content": json.dumps(help_request(version)).encode(),
                                "headers": {"Content-Type": "text/plain"}}),
        ("a form", {"data": {"customer": "x", "service_type": "consultation"}}),
        ("deeply nested", {"content": nested.encode(), "headers": {"Content-Type": "application/json"}}),
        ("huge body", {"content": b'{"description": "' + b"x" * 80_000 + b'"}',
                       "headers": {"Content-Type": "application/json"}}),
    ]


async def test_no_page_shows_internals_in_either_language(system):
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=system.gateway_url, follow_redirects=True, timeout=30) as client:
        tokens = await staff_tokens(client)
        ours = await request_help(client)
        pages = ["/", "/console/login", "/console/login?error=login_failed", "/console/login?error=csrf_failed",
                 "/console/login?error=<script>", "/console", "/supervisor", "/finance", "/console/session/nope",
                 f"/console/session/{ours.session_id}", "/no-such-page", "/static/app/nope.js", "/downloads/",
                 "/downloads/nope.exe", "/console/events"]
        roles = [None, "consultant", "supervisor", "finance", "admin"]
        for lang in LANGUAGES:
            for role in roles:
                client.cookies.clear()
                client.cookies.set("assist_lang", lang)
                if role:
                    client.cookies.set("assist_token", tokens[role])
                for path in pages:
                    if path == "/console/events" and role in ("consultant", "supervisor", "admin"):
                        continue  # a stream that does not end: its refusals are what is checked here
                    sep = "&" if "?" in path else "?"
                    response = await client.get(f"{path}{sep}lang={lang}", headers={"Accept-Language": lang})
                    check(response, lang, seen, f"{role or 'anonymous'} GET {path}")
    assert len(seen) == 2 * len(roles) * len(pages) - 2 * 3


async def test_no_refused_api_request_shows_internals_in_either_language(system):
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        version = (await client.get("/api/v1/terms")).json()["version"]
        tokens = await staff_tokens(client)
        ours = await request_help(client)
        for lang in LANGUAGES:
            # The language by the header, and (Bulgarian) by the pages' cookie alone, as a browser's fetch has it.
            ways = [({"Accept-Language": lang}, {})] + ([({}, {"assist_lang": "bg"})] if lang == "bg" else [])
            for headers, cookies in ways:
                client.cookies.clear()
                for name, value in cookies.items():
                    client.cookies.set(name, value)
                # A NUL byte: SQLite stores it, PostgreSQL refuses it (a 422, never a 500): either way, in words.
                nul = await client.post("/api/v1/help-requests", headers=headers,
                                        json=help_request(version, customer={**CUSTOMER, "name": "Мария\u0000"}))
                assert nul.status_code in (201, 422), nul.text
                check(nul, lang, seen, "help request: a NUL in the name")
                for what, arguments in bad_help_requests(version):
                    arguments = {**arguments, "headers": {**arguments.get("headers", {}), **headers}}
                    response = await client.post("/api/v1/help-requests", **arguments)
                    assert 400 <= response.status_code < 500, (what, response.status_code, response.text)
                    check(response, lang, seen, f"help request: {what}")
                anonymous, wrong_token = headers, {**headers, **bearer("not-a-token")}
                customer = {**headers, **bearer(ours.customer_token)}
                attempts = [
                    ("GET", f"/api/v1/sessions/{ours.session_id}", anonymous, {}),
                    ("GET", f"/api/v1/sessions/{ours.session_id}", wrong_token, {}),
                    ("GET", "/api/v1/sessions/another-one", customer, {}),
                    ("GET", f"/api/v1/sessions/{ours.session_id}/consent-receipt", wrong_token, {}),
                    ("GET", f"/api/v1/sessions/{ours.session_id}/report", customer, {}),
                    ("POST", "/api/v1/sessions/another-one/terminate", customer, {}),
                    ("GET", "/api/v1/terms?lang=xx", anonymous, {}),
                    ("GET", "/api/v1/price-list?lang=1", anonymous, {}),
                    ("DELETE", "/api/v1/terms", anonymous, {}),
                    ("GET", "/api/v1/no-such-thing", anonymous, {}),
                    ("POST", "/api/v1/auth/token", anonymous, {"json": {"username": "x", "password": "y"}}),
                    ("POST", "/api/v1/auth/token", anonymous, {"data": {"username": "x" * 300, "password": "y"}}),
                    ("POST", "/api/v1/auth/token", anonymous, {"data": {"username": "nobody", "password": "wrong"}}),
                    ("GET", "/api/v1/queue", customer, {}),
                    ("GET", "/api/v1/me", wrong_token, {}),
                    ("GET", "/api/v1/sessions?status=nonsense", {**headers, **bearer(tokens["admin"])}, {}),
                    ("POST", "/api/v1/sessions/no-such-session/claim", {**headers, **bearer(tokens["consultant"])}, {}),
                    ("POST", "/api/v1/sessions/no-such-session/end", {**headers, **bearer(tokens["supervisor"])}, {}),
                    ("GET", "/api/v1/billing/records?from=yesterday", {**headers, **bearer(tokens["finance"])}, {}),
                    ("GET", "/api/v1/billing/records/no-such-record", {**headers, **bearer(tokens["finance"])}, {}),
                    ("POST", "/api/v1/billing/records/no-such-record/credits", {**headers, **bearer(tokens["finance"])},
                     {"json": {"amount": [1], "reason": None}}),
                    ("POST", "/api/v1/price-lists", {**headers, **bearer(tokens["admin"])}, {"json": {"version": 1}}),
                    ("GET", "/api/v1/audit?service=nope", {**headers, **bearer(tokens["admin"])}, {}),
                    ("GET", "/api/v1/terms", {**headers, "X-Padding": "x" * 20_000}, {}),
                    ("POST", "/api/v1/sessions/no-such-session/claim", headers, {}),
                ]
                for method, path, attempt_headers, arguments in attempts:
                    response = await client.request(method, path, headers=attempt_headers, **arguments)
                    assert response.status_code >= 400, (method, path, response.status_code, response.text)
                    check(response, lang, seen, f"{method} {path}")
    # Bulgarian by header and by cookie, English by header: every request of the battery three times.
    assert len(seen) == 3 * (len(bad_help_requests(version)) + 1 + len(attempts))


async def test_every_api_operation_given_junk_answers_in_words(system):
    """Every operation of the live OpenAPI document, with junk in its path, query and body, as an admin."""
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        tokens = await staff_tokens(client)
        document = (await client.get("/openapi.json")).json()
        operations = [(method.upper(), path) for path, item in document["paths"].items() for method in item
                      if path != "/api/v1/auth/logout"]
        assert len(operations) >= 20
        for lang in LANGUAGES:
            for method, path in operations:
                url = re.sub(r"\{[^}]+\}", "%3Cjunk%3E", path)
                arguments = {"params": {"limit": "many", "from": "yesterday", "lang": ["x", "y"], "status": "{}"}}
                if method in ("POST", "PUT", "PATCH"):
                    arguments["json"] = {"junk": {"deep": [1, "x", None]}, "amount": "lots", "scopes": 7}
                response = await client.request(method, url, headers={"Accept-Language": lang,
                                                                      **bearer(tokens["admin"])}, **arguments)
                check(response, lang, seen, f"{method} {path} with junk")
    assert len(seen) == 2 * len(operations)


async def test_a_hostile_accept_language_is_no_preference_and_costs_nothing(system):
    """Thousands of language ranges, broken q-values, injected words: English (or the one real preference), quickly,
    and nothing of the header comes back in the answer."""
    hostile = [
        ",".join(f"x{i};q=0.{i % 9 + 1}" for i in range(2000)),            # about 16 KB below the header limit
        "bg;q=NaN, en;q=-1, <script>;q=1",
        "bg;q=1e309",                                                      # infinity is no preference either
        "en;q=0.1, " + ",".join("de" for _ in range(3000)) + ", bg;q=0.9",  # past the first 50 ranges: not read
        '"; DROP TABLE sessions; --',
    ]
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        for header in hostile:
            response = await client.get("/api/v1/no-such-thing", headers={"Accept-Language": header})
            assert response.status_code in (404, 431), response.text
            assert response.elapsed.total_seconds() < 2
            if response.status_code == 404:
                assert response.headers["content-language"] == "en", header[:80]
                assert response.json()["title"] == "Not found"
            assert "script" not in response.text and "DROP" not in response.text
        # A real preference among junk is still found.
        response = await client.get("/api/v1/no-such-thing", headers={"Accept-Language": "xx;q=0.9, bg;q=0.8, *"})
        assert response.headers["content-language"] == "bg"
