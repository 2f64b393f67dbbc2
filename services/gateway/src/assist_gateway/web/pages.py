"""The pages: the customer's request page, staff login and logout, the consultant's console, the supervisor's
view and finance. They call the same commands as the API; the live parts are in their static scripts.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from assist_platform.problems import Problem
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from ..api.deps import LoginLimiterDep, RelayHubDep, RuntimeDep, SettingsDep
from ..commands import PRICE_LIST, SESSION_LIST, TERMS, call, get_session
from ..domain import ADMIN, CONSULTANT, FINANCE, SUPERVISOR, session_card
from ..edge import client_address
from ..identity import (
    TOKEN_COOKIE,
    LoginRefused,
    clear_staff_cookie,
    cookie_staff,
    log_in,
    log_out,
    login_csrf_matches,
    new_login_csrf_value,
    set_login_csrf,
    set_staff_cookie,
)
from ..recording.reading import playable_sessions, recent_recordings
from ..staff import StaffIdentity
from .i18n import MESSAGES, language
from .live import snapshot_for
from .price_table import price_rows, vat_percent
from .problem_language import localize_problem
from .recording_notice import recording_notice
from .rendering import render, render_problem_page
from .terms import render_terms

router = APIRouter(include_in_schema=False)
HOME_OF_ROLE = {CONSULTANT: "/console", SUPERVISOR: "/supervisor", ADMIN: "/supervisor", FINANCE: "/finance"}


async def page_staff(request: Request, runtime) -> tuple[StaffIdentity | None, str | None]:
    return await cookie_staff(request, runtime.database)


class _NeedsLogin(Exception):
    pass


class ForbiddenPage(Exception):
    """A logged-in staff member opened a page that is not for their role (or a session that is not theirs):
    answered as an HTML page in their language with a way back to their home (`forbidden_page`), not JSON."""

    def __init__(self, staff: StaffIdentity, detail_key: str = "cq_forbidden_role") -> None:
        super().__init__(detail_key)
        self.staff = staff
        self.detail_key = detail_key


async def staff_page(request: Request, runtime, *roles: str) -> tuple[StaffIdentity, str]:
    """The staff member of a page: `_NeedsLogin` without a valid cookie, `ForbiddenPage` for another role."""
    staff, token = await page_staff(request, runtime)
    if staff is None or token is None:
        raise _NeedsLogin()
    if staff.role not in roles:
        raise ForbiddenPage(staff)
    return staff, token


async def forbidden_page(request: Request, forbidden: ForbiddenPage) -> Response:
    """The 403 page (installed as the app's handler of `ForbiddenPage`, so every page that calls `staff_page`,
    finance's too, answers this way): what happened, who is logged in, and the way back to the role's home."""
    words = MESSAGES[language(request)]
    staff = forbidden.staff
    return render_problem_page(
        request,
        status_code=403,
        title=words["cq_forbidden_title"],
        detail=words[forbidden.detail_key].format(role=words.get(f"cq_role_{staff.role}", staff.role)),
        back_href=HOME_OF_ROLE.get(staff.role, "/"),
        back_label=words.get(f"cq_back_{staff.role}", words["error_back_home"]),
        staff=staff,
    )


async def service_names(runtime, lang: str) -> dict[str, str]:
    """Service type code -> its name in `lang`, from the current price list (the queue and lists show names, not
    codes). Empty while billing does not answer: the pages then show the codes rather than fail."""
    try:
        prices = await call(runtime, PRICE_LIST, {})
    except Problem:
        return {}
    names: dict[str, str] = {}
    for service in prices.service_types:
        if name := service.name_in(lang):
            names[service.code] = name
    return names


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


@router.get("/")
async def customer_page(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    lang = language(request)
    try:
        terms = await call(runtime, TERMS, {"lang": lang})
        prices = await call(runtime, PRICE_LIST, {})
    except Problem as problem:
        # A browser asked for a page: the failure as a page in its language, with a way to try again.
        said = localize_problem(problem.to_dict(), lang)
        return render_problem_page(request, status_code=problem.status, title=said["title"],
                                   detail=said.get("detail", ""), back_href=f"/?lang={lang}")
    return render(
        request, "customer.html", terms=terms, terms_html=render_terms(terms.text), prices=prices,
        price_rows=price_rows(prices, lang), vat_percent=vat_percent(prices, lang),
        recording=recording_notice(settings),  # disclosed before consent, shown while it runs (#19)
    )


@router.get("/console/login")
async def login_page(request: Request, next: str = "", error: str = "") -> Response:
    known_error = error if error in LOGIN_ERRORS else ""
    return _login_form(request, next=next, error=known_error)


# What a failed login says, and with which status the form comes back.
LOGIN_ERRORS = {"login_failed": 401, "login_throttled": 429, "csrf_failed": 403}


def _login_form(
    request: Request, *, next: str, error: str = "", username: str = "", failed: bool = False,
    retry_after: int | None = None,
) -> Response:
    """The login form; after a failed attempt the same form again (not a redirect), with the typed username (never
    the password), the destination and the reason, so neither the username nor `next` travels in a URL."""
    # The cookie and the hidden field carry the same random value (double submit); a fresh pair each time.
    login_csrf = new_login_csrf_value()
    response = render(
        request, "login.html", status_code=LOGIN_ERRORS[error] if failed else 200,
        next=_safe_next(next), error=error, login_csrf=login_csrf, username=username,
    )
    set_login_csrf(response, request, login_csrf)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.post("/console/login")
async def login_submit(
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    limiter: LoginLimiterDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=500)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The login form's post: the API's login (identity.log_in: throttle, password, token, audit), answered as
    pages: the cookie and the way to the role's home, or the form again with the reason."""
    if not login_csrf_matches(request, csrf_token):
        return _login_form(request, next=next, error="csrf_failed", username=username, failed=True)
    try:
        login = await log_in(database=runtime.database, limiter=limiter,
                             ttl_seconds=settings.staff_token_ttl_seconds, username=username, password=password,
                             address=client_address(request))
    except LoginRefused as refused:
        error = "login_failed" if refused.retry_after is None else "login_throttled"
        return _login_form(request, next=next, error=error, username=username, failed=True,
                           retry_after=refused.retry_after)
    response = RedirectResponse(
        _safe_next(next) or HOME_OF_ROLE.get(login.identity.role, "/console"), status_code=303
    )
    set_staff_cookie(response, request, login.access_token, login.expires_in)
    return response


def _safe_next(target: str) -> str:
    # Only a path of this site: never an open redirect to another host (`//evil`, `https://…`).
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else ""


@router.post("/console/logout")
async def logout(request: Request, runtime: RuntimeDep, relay_hub: RelayHubDep) -> Response:
    # The token is revoked whenever the cookie is cleared, CSRF token or not: a stale page's logout must not
    # leave a live token behind. Forging a logout gains a foreign site nothing (and SameSite=Strict stops it).
    # A session page in another tab loses its socket with it.
    relay_hub.close_signed_out(await log_out(runtime.database, request.cookies.get(TOKEN_COOKIE)))
    response = RedirectResponse("/console/login", status_code=303)
    clear_staff_cookie(response)
    return response


@router.get("/console")
async def console_page(request: Request, runtime: RuntimeDep) -> Response:
    try:
        staff, token = await staff_page(request, runtime, CONSULTANT)
    except _NeedsLogin:
        return to_login(request)
    history = await call(runtime, SESSION_LIST, {"consultant": staff.username})
    shown = [view.model_dump(mode="json") for view in history.sessions[:50]]
    return render(request, "console.html", staff=staff, token=token, history=shown,
                  service_names=await service_names(runtime, language(request)),
                  recorded=await playable_sessions(runtime.database, [view["session_id"] for view in shown]))


async def _session_or_page(request: Request, runtime, session_id: str, *, staff, back_href: str,
                           back_label: str):
    """The session's view, or the page that says why there is none: a session that vanished (an old link) or a
    service that does not answer, with a way back."""
    try:
        return await get_session(runtime, session_id=session_id)
    except Problem as problem:
        words = MESSAGES[language(request)]
        missing = problem.status in (404, 422)  # 422: not even a session id
        return render_problem_page(
            request, status_code=404 if missing else problem.status,
            title=words["cq_session_missing_title" if missing else "cq_page_failed_title"],
            detail=words["cq_session_missing" if missing else "cq_page_failed"],
            back_href=back_href, back_label=words[back_label], staff=staff,
        )


@router.get("/console/session/{session_id}")
async def console_session_page(session_id: str, request: Request, runtime: RuntimeDep,
                               settings: SettingsDep) -> Response:
    try:
        staff, token = await staff_page(request, runtime, CONSULTANT)
    except _NeedsLogin:
        return to_login(request)
    view = await _session_or_page(request, runtime, session_id, staff=staff, back_href="/console",
                                  back_label="cq_back_consultant")
    if isinstance(view, Response):
        return view
    if view.consultant != staff.username:
        raise ForbiddenPage(staff, "cq_forbidden_session")
    names = await service_names(runtime, language(request))
    return render(request, "session.html", staff=staff, token=token, session=view.model_dump(mode="json"),
                  service_name=names.get(view.service_type, view.service_type), observer=False,
                  recording_link=settings.recording_enabled)


@router.get("/console/observe/{session_id}")
async def observe_session_page(session_id: str, request: Request, runtime: RuntimeDep,
                               settings: SettingsDep) -> Response:
    """A supervisor (or an admin) watches a running session, view only (#16): the consultant's session view with
    no input of any kind, over the observer socket (`/ws/v1/observer/{id}`), which tells the customer and the
    consultant who watches. The page holds only the session's card (no contact, no description)."""
    try:
        staff, token = await staff_page(request, runtime, SUPERVISOR, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    view = await _session_or_page(request, runtime, session_id, staff=staff, back_href="/supervisor",
                                  back_label=f"cq_back_{staff.role}")
    if isinstance(view, Response):
        return view
    names = await service_names(runtime, language(request))
    return render(request, "session.html", staff=staff, token=token, session=session_card(view),
                  service_name=names.get(view.service_type, view.service_type), observer=True,
                  recording_link=settings.recording_enabled)


@router.get("/console/events")
async def console_events(request: Request, runtime: RuntimeDep) -> Response:
    """Server-sent events: the queue (consultants) or the running sessions (supervisors, admins)."""
    staff, _token = await page_staff(request, runtime)
    if staff is None:
        raise Problem(401, "Not authenticated", "Log in first.")
    if staff.role not in (CONSULTANT, SUPERVISOR, ADMIN):
        raise Problem(403, "Forbidden", f"The role {staff.role} has no live view.")
    changes = request.app.state.session_changes
    stream = changes.stream(
        lambda: snapshot_for(runtime, staff.role), is_disconnected=request.is_disconnected
    )
    response = StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    return response


@router.get("/supervisor")
async def supervisor_page(request: Request, runtime: RuntimeDep) -> Response:
    try:
        staff, token = await staff_page(request, runtime, SUPERVISOR, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    return render(request, "supervisor.html", staff=staff, token=token,
                  service_names=await service_names(runtime, language(request)),
                  recordings=await recent_recordings(runtime.database))  # each links to its playback (#19)
