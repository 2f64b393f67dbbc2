"""Rendering a page: the template, the language, the CSRF token, and the security headers of documents."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from ..staff import StaffIdentity
from .i18n import LANG_COOKIE, MESSAGES, language
from .price_table import amount_text
from .security import CONTENT_SECURITY_POLICY, csrf_for

HERE = Path(__file__).parent
# services/gateway/web/node_modules: installed by `make` (npm ci), never committed.
VENDOR_DIR = HERE.parents[2] / "web" / "node_modules"
templates = Jinja2Templates(directory=HERE / "templates")


@pass_context
def _money(context, amount: object) -> str:
    """`{{ amount | money }}`: billing's decimal text as the page's language writes money ("1 250,00" in Bulgarian,
    "1,250.00" in English, as the price table and the customer page do); "—" for none."""
    return amount_text(amount, context.get("lang", "en"))


templates.env.filters["money"] = _money


class Words(dict):
    """The messages of one language as attributes (`t.name`); a missing key shows itself instead of nothing."""

    def __getattr__(self, key: str) -> str:
        return self.get(key, f"[{key}]")


def render(
    request: Request,
    name: str,
    *,
    staff: StaffIdentity | None = None,
    status_code: int = 200,
    token: str | None = None,
    **context,
) -> HTMLResponse:
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "other_lang": "en" if lang == "bg" else "bg",
            "t": Words(MESSAGES[lang]),
            "messages": MESSAGES[lang],
            "staff": staff,
            "csrf_token": csrf_for(token) if token else "",
            "vendor_ready": VENDOR_DIR.is_dir(),
            **context,
        },
        status_code=status_code,
    )
    secure_document(response)
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


def render_problem_page(
    request: Request,
    *,
    status_code: int,
    title: str,
    detail: str = "",
    back_href: str = "/",
    back_label: str | None = None,
    staff: StaffIdentity | None = None,
) -> HTMLResponse:
    """An error as a page in the reader's language, with a way back: what a browser gets instead of problem+json.

    `title` and `detail` are already in the page's language (the caller chose the words).
    """
    words = MESSAGES[language(request)]
    return render(
        request,
        "error.html",
        staff=staff,
        status_code=status_code,
        problem_title=title,
        problem_detail=detail,
        back_href=back_href,
        back_label=back_label or words["error_back_home"],
    )


def secure_document(response) -> None:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Pages show personal data and session state: never from a cache.
    response.headers["Cache-Control"] = "no-store"
