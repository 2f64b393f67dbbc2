"""The playback page of a session's recording (issue #19): `/recordings/{session_id}`.

Opened by the session's readers with the staff cookie (its assigned consultant, supervisors, admins: the API reads
the page makes are audited for overseers), or by anyone holding the customer's time-limited link (`?ticket=`). A
bad or expired ticket, a recording that is gone or never was, is a page in the reader's language, never JSON.

The page: the terminal in asciinema-player, the screen drawn with the console's tile decoder, both driven by the
player's clock, the events listed with their offsets (a click seeks), the downloads, and for the customer the
erasure (with their session's token, which the customer page keeps in this browser: a ticket erases nothing).
"""

from __future__ import annotations

from typing import Annotated

from assist_platform.problems import Problem
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..api.deps import RuntimeDep
from ..domain import ADMIN, CONSULTANT, SUPERVISOR, may_read_session
from ..recording.reading import recording_row, rfc3339
from ..recording.rules import GONE_STATUSES, TicketVerdict, ticket_expiry
from .i18n import MESSAGES, language
from .pages import HOME_OF_ROLE, ForbiddenPage, _NeedsLogin, _session_or_page, staff_page, to_login
from .rendering import render, render_problem_page
from .security import CONTENT_SECURITY_POLICY

router = APIRouter(include_in_schema=False)
# asciinema-player runs its terminal emulator as WebAssembly, which a page may compile only with 'wasm-unsafe-eval'
# (it allows WebAssembly alone: JavaScript's eval stays refused). This page only: the others need none.
PLAYBACK_CSP = CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", 1)
assert PLAYBACK_CSP != CONTENT_SECURITY_POLICY


def _problem_page(request: Request, status: int, title_key: str, detail_key: str, *, staff=None,
                  back_href: str = "/") -> Response:
    words = MESSAGES[language(request)]
    back_label = words.get(f"cq_back_{staff.role}") if staff is not None else None
    return render_problem_page(request, status_code=status, title=words[title_key], detail=words[detail_key],
                               back_href=back_href, back_label=back_label, staff=staff)


def _ticket_refused(request: Request, ticket: str, session_id: str) -> Response | None:
    """The page that refuses a ticket (forged, another session's, expired), or None for a valid one."""
    try:
        verdict = request.app.state.playback_links.check(ticket, session_id)
    except Problem:  # no secret to check it with (RECORDING_LINK_SECRET): links are off
        return _problem_page(request, 503, "cq_page_failed_title", "cq_page_failed")
    if verdict is TicketVerdict.VALID:
        return None
    expired = verdict is TicketVerdict.EXPIRED
    return _problem_page(request, 403, "rp_link_expired_title" if expired else "rp_link_invalid_title",
                         "rp_link_expired" if expired else "rp_link_invalid")


async def _staff_reader(request: Request, runtime, session_id: str):
    """(staff, token) of a reader of the session by cookie, or the response instead: the login, or a page saying
    why not (another consultant's session, a role that reads none, a session that is not there)."""
    try:
        staff, token = await staff_page(request, runtime, CONSULTANT, SUPERVISOR, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    view = await _session_or_page(request, runtime, session_id, staff=staff,
                                  back_href=HOME_OF_ROLE.get(staff.role, "/"), back_label=f"cq_back_{staff.role}")
    if isinstance(view, Response):
        return view
    if not may_read_session(username=staff.username, role=staff.role, assigned_consultant=view.consultant):
        raise ForbiddenPage(staff, "cq_forbidden_session")
    return staff, token


@router.get("/recordings/{session_id}")
async def recording_page(
    session_id: str, request: Request, runtime: RuntimeDep,
    # Not bounded to a ticket's length here: a wrong ticket gets the page that says so, not a 422.
    ticket: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    staff = token = None
    if ticket is not None:
        refused = _ticket_refused(request, ticket, session_id)
        if refused is not None:
            return refused
    else:
        reader = await _staff_reader(request, runtime, session_id)
        if isinstance(reader, Response):
            return reader
        staff, token = reader
    back = HOME_OF_ROLE.get(staff.role, "/") if staff is not None else "/"
    row = await recording_row(runtime.database, session_id)
    if row is None:
        return _problem_page(request, 404, "rp_missing_title", "rp_missing", staff=staff, back_href=back)
    if row.status in GONE_STATUSES:
        return _problem_page(request, 410, "rp_gone_title", f"rp_{row.status}", staff=staff, back_href=back)
    response = render(
        request, "recording.html", staff=staff, token=token, session_id=session_id, ticket=ticket or "",
        mode="customer" if ticket is not None else "staff", back_href=back,
        recording={"status": row.status, "started_at": rfc3339(row.started_at), "ended_at": rfc3339(row.ended_at),
                   "delete_after": rfc3339(row.delete_after), "gaps": row.gaps},
        ticket_expires=rfc3339(ticket_expiry(ticket)) if ticket else "",
    )
    response.headers["Content-Security-Policy"] = PLAYBACK_CSP
    return response
