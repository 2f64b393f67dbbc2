"""Problem details in the reader's language: every application/problem+json the gateway answers.

The language: the best of `Accept-Language` (q-values; Bulgarian or English), else the `assist_lang` cookie the
pages set, else none: English as the services word it, the API's language for clients that say nothing (the
answer's `Content-Language` says `en`). The pages' scripts send the page's language as Accept-Language
(static/common.js `api()`).

In the language asked for (the words of web/words/customer.py and the other areas' modules):
- a problem with a machine `code` that has words (`problem_<code>`, any area's words module) gets them as its
  detail, `{placeholders}` filled from the problem's members (`retry_after`, `current_version`, ...);
- a 422 that lists its `errors` is told field by field: the field's name in words (`pr_field_*`) and what is
  wrong with it (`pr_type_*`, from pydantic's error type), never pydantic's English, a pattern or a model's name;
- anything else keeps the service's own detail in English (below 500), and gets the generic detail of its
  status (`pr_detail_<status>`) in Bulgarian and for a 5xx;
- the title is the status's (`pr_title_<status>`).

Done as plain ASGI around the whole app, so the problems of middlewares (413, 431, CSRF), routes, FastAPI's
own 404/405/422 and the services' command replies are all covered by one rule. Problem bodies are small; nothing
else (pages, event streams, downloads) is buffered or touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from ..middleware import HttpMiddleware
from .i18n import LANG_COOKIE, MESSAGES

PROBLEM_JSON = b"application/problem+json"
LANGUAGES = ("bg", "en")
API_DEFAULT = "en"
# A problem body bigger than this is passed on untouched (ours are a few hundred bytes).
MAX_PROBLEM_BYTES = 64 * 1024

_TYPE_WORDS = {
    "missing": "missing",
    "string_too_short": "string_too_short",
    "string_too_long": "string_too_long",
    "too_short": "too_short",
    "too_long": "too_long",
    "string_pattern_mismatch": "string_pattern_mismatch",
    "string_type": "string_type",
    "string_unicode": "string_type",
    "int_type": "int_type",
    "int_parsing": "int_type",
    "int_from_float": "int_type",
    "float_type": "number_type",
    "float_parsing": "number_type",
    "decimal_type": "number_type",
    "decimal_parsing": "number_type",
    "bool_type": "bool_type",
    "bool_parsing": "bool_type",
    "list_type": "list_type",
    "tuple_type": "list_type",
    "set_type": "list_type",
    "dict_type": "dict_type",
    "model_type": "dict_type",
    "model_attributes_type": "dict_type",
    "dataclass_type": "dict_type",
    "datetime_type": "datetime_type",
    "datetime_parsing": "datetime_type",
    "datetime_from_date_parsing": "datetime_type",
    "timezone_aware": "datetime_type",
    "date_type": "datetime_type",
    "date_parsing": "datetime_type",
    "extra_forbidden": "extra_forbidden",
    "json_invalid": "json_invalid",
    "json_type": "json_invalid",
    "literal_error": "literal_error",
    "enum": "literal_error",
    "consent_not_given": "consent_not_given",
    "scopes_required": "scopes_required",
    "scope_unknown": "scope_unknown",
    "greater_than": "too_small",
    "greater_than_equal": "too_small",
    "less_than": "too_big",
    "less_than_equal": "too_big",
}
# A pattern that fails says more when we know what the field is.
_PATTERN_WORDS = {"email": "email_pattern", "phone": "phone_pattern"}
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _quality(part: str) -> tuple[str, float]:
    tag, *params = (piece.strip() for piece in part.split(";"))
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    # RFC 9110: a weight is between 0 and 1; anything else (NaN, inf, -1) is no preference.
    return tag.lower(), quality if 0.0 <= quality <= 1.0 else 0.0


def accepted_language(header: str | None) -> str | None:
    """The supported language `Accept-Language` prefers (highest q, first on a tie), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:50]):
        if not part.strip():
            continue
        tag, quality = _quality(part)
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


def _cookie_language(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    try:
        cookies = SimpleCookie(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(LANG_COOKIE)
    return morsel.value if morsel is not None and morsel.value in LANGUAGES else None


def problem_language(headers: Mapping[str, str]) -> str | None:
    """Accept-Language, else the pages' language cookie (`headers` with lower-case names); None: no preference,
    the services' own English."""
    return accepted_language(headers.get("accept-language")) or _cookie_language(headers.get("cookie"))


def _fill(template: str, values: Mapping[str, Any]) -> str:
    for name, value in values.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            template = template.replace(f"{{{name}}}", str(value))
    return template


def _word(words: Mapping[str, str], key: str, values: Mapping[str, Any] | None = None) -> str | None:
    text = words.get(key)
    if text is None:
        return None
    text = _fill(text, values or {})
    return None if _PLACEHOLDER.search(text) else text


def _field_name(words: Mapping[str, str], loc: Iterable[Any]) -> tuple[str, str]:
    """The field's name in words, and its last named part (`email`, `phone`, ...)."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    named = [part for part in parts if not part.isdigit()]
    if not named:
        return words["pr_field_body"], ""
    key = "pr_field_" + "_".join(named)
    label = words.get(key) or _fill(words["pr_field_unknown"], {"path": ".".join(named)[:80]})
    return label, named[-1]


def _field_problem(words: Mapping[str, str], error: Mapping[str, Any]) -> tuple[str, str]:
    """The field's name in words and what is wrong with it."""
    label, last = _field_name(words, error.get("loc") or [])
    kind = str(error.get("type", ""))
    word = _TYPE_WORDS.get(kind, "other")
    if word == "string_pattern_mismatch" and last in _PATTERN_WORDS:
        word = _PATTERN_WORDS[last]
    return label, _word(words, f"pr_type_{word}", error) or words["pr_type_other"]


def _invalid_fields(words: Mapping[str, str], errors: list[Any]) -> tuple[str, list[Any]] | None:
    """The detail listing the first five wrong fields, and `errors` with each `problem` in words."""
    told = [(error, *_field_problem(words, error)) for error in errors if isinstance(error, Mapping)]
    if not told:
        return None
    listed = [_fill(words["pr_field_problem"], {"field": label, "problem": problem}) for _, label, problem in told]
    more = f" {_fill(words['pr_more'], {'count': len(listed) - 5})}" if len(listed) > 5 else ""
    return "; ".join(listed[:5]) + more, [{**error, "problem": problem} for error, _, problem in told]


def localize_problem(body: dict[str, Any], lang: str | None) -> dict[str, Any]:
    """`body` (a problem's JSON) with its title and detail in `lang`.

    Without a preference (`lang` None) and for unknown shapes, `body` itself: the services' English. In English
    asked for, the service's own detail stays where no code or field list says it in words (it is English).
    """
    if lang not in LANGUAGES:
        return body
    status = body.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        return body
    words = MESSAGES[lang]
    detail = None
    code = body.get("code")
    if isinstance(code, str):
        detail = _word(words, f"problem_{code}", body)
    errors = body.get("errors")
    told = _invalid_fields(words, errors) if isinstance(errors, list) and errors else None
    if told is not None:
        body = {**body, "errors": told[1]}
        detail = detail or told[0]
    # (A 5xx's own detail names the platform's parts, "cmd.consent.terms did not answer": the status's words.)
    if detail is None and lang == "en" and status < 500 and isinstance(body.get("detail"), str) and body["detail"]:
        detail = body["detail"]
    if detail is None and status == 429:
        detail = _word(words, "pr_detail_429_wait", body)
    if detail is None:
        detail = words.get(f"pr_detail_{status}") or words["pr_detail_other"]
    title = words.get(f"pr_title_{status}") or words["pr_title_other"]
    return {**body, "title": title, "detail": detail}


class ProblemLanguageMiddleware(HttpMiddleware):
    """Rewrites the title and detail of every problem+json response into the request's language."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", ())}
        lang = problem_language(headers)
        start: Message | None = None
        chunks: list[bytes] = []

        async def localizing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = next((v for n, v in message.get("headers", ()) if n.lower() == b"content-type"), b"")
                if content_type.startswith(PROBLEM_JSON):
                    start = message  # held back until the body is complete
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False) and sum(map(len, chunks)) <= MAX_PROBLEM_BYTES:
                return
            body = b"".join(chunks)
            more = message.get("more_body", False)
            held, start = start, None
            chunks.clear()
            await _send_localized(send, held, body, more, lang)

        await self.app(scope, receive, localizing_send)


async def _send_localized(send: Send, start: Message, body: bytes, more_body: bool, lang: str | None) -> None:
    localized = body
    if not more_body and body:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict):
            said = localize_problem(document, lang)
            if said is not document:
                localized = json.dumps(said, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [(n, v) for n, v in start.get("headers", ()) if n.lower() not in (b"content-length", b"vary")]
    vary = [v for n, v in start.get("headers", ()) if n.lower() == b"vary"]
    headers.append((b"vary", b", ".join([*vary, b"Accept-Language, Cookie"])))
    if not more_body:
        headers.append((b"content-length", str(len(localized)).encode()))
        headers.append((b"content-language", (lang or API_DEFAULT).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": localized, "more_body": more_body})
