"""A session's recording (issue #19): its index, the terminal as an asciicast file, the screen stream, the session
report, the customer's playback link, and the customer's erasure.

Who reads (the GETs): the session's customer (their token), its assigned consultant, supervisors and admins (their
read audited as `session.read`, as for the session itself), or whoever holds a valid playback ticket (`?ticket=`, a
link the customer minted: reading only, that session only, until it expires). Finance and other consultants get
403. Only the customer's token mints a link or erases; a ticket never does either.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from assist_contract.session import SessionView
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problem_docs import problem_responses
from assist_platform.problems import Problem
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from ..commands import BILLING_SESSION_REPORT, CONSENT_RECEIPT, SESSION_CHAT_LIST, call, get_session
from ..recording import format as recording_format
from ..recording import reading
from ..recording import report as session_report
from ..recording.links import PlaybackLinks
from ..recording.recorder import Recordings
from ..recording.retention import erase, erasure_problem_when_incomplete
from ..recording.rules import MAX_TICKET_LENGTH, TicketVerdict
from ..schemas import RecordingErasedOut, RecordingIndexOut, RecordingLinkOut
from ..service import file_transfers
from ..web.i18n import MESSAGES
from .deps import (
    BearerToken, CustomerTokensDep, RuntimeDep, SessionCallerDep, _session_caller, _session_reader,
    client_address, customer_only,
)

router = APIRouter(tags=["recordings"])

ASCIICAST_TYPE = "application/x-asciicast"
MARKDOWN_TYPE = "text/markdown; charset=utf-8"
ZIP_TYPE = "application/zip"
Ticket = Annotated[str | None, Query(max_length=MAX_TICKET_LENGTH,
                                     description="a playback ticket from the customer's link (reading only)")]


def _recordings(request: Request) -> Recordings:
    return request.app.state.recordings


def _links(request: Request) -> PlaybackLinks:
    return request.app.state.playback_links


RecordingsDep = Annotated[Recordings, Depends(_recordings)]
LinksDep = Annotated[PlaybackLinks, Depends(_links)]


def ticket_refusal(verdict: TicketVerdict) -> Problem:
    if verdict is TicketVerdict.EXPIRED:
        return Problem(403, "Forbidden", "This playback link has expired; ask for a new one on the session page.",
                       code="recording_link_expired")
    return Problem(403, "Forbidden", "This playback link is not valid for this session.",
                   code="recording_link_invalid")


@dataclass(frozen=True)
class RecordingReader:
    """Who reads a recording: by ticket, or as a session reader (customer token, or staff already checked)."""

    session_id: str
    by_ticket: bool = False
    view: SessionView | None = None  # when staff read it: fetched to decide


async def _recording_reader(session_id: str, request: Request, runtime: RuntimeDep,
                            customer_tokens: CustomerTokensDep, token: BearerToken, links: LinksDep,
                            ticket: Ticket = None) -> RecordingReader:
    """A ticket, when one is given, decides alone (valid for this session and unexpired, or 403); else the session's
    readers as for the session itself (401, 403; supervisors' and admins' reads audited)."""
    if ticket is not None:
        verdict = links.check(ticket, session_id)
        if verdict is not TicketVerdict.VALID:
            raise ticket_refusal(verdict)
        return RecordingReader(session_id=session_id, by_ticket=True)
    caller = await _session_caller(session_id, runtime, customer_tokens, token)
    reader = await _session_reader(caller, runtime, request)
    return RecordingReader(session_id=session_id, view=reader.view)


RecordingReaderDep = Annotated[RecordingReader, Depends(_recording_reader)]
READ_PROBLEMS = problem_responses(
    401, 403, 404, 410, 422, 503,
    s403="Not this session's customer, assigned consultant or an overseer; or a ticket that is not valid for this "
         "session or has expired (`code`: recording_link_invalid, recording_link_expired).",
    s404="The session has no recording (`code`: recording_not_found), or there is no such session.",
    s410="The recording was erased by the customer or expired (`code`: recording_erased, recording_expired).")


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}


def _file_response(media_type: str, description: str) -> dict:
    return {200: {"description": description, "content": {media_type.split(";")[0]: {"schema": {"type": "string"}}},
                  "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}}}}


@router.get("/sessions/{session_id}/recording", response_model=RecordingIndexOut, responses=READ_PROBLEMS)
async def recording_index(session_id: str, reader: RecordingReaderDep, runtime: RuntimeDep,
                          recordings: RecordingsDep) -> dict:
    """What a player needs first: times, the terminal's size, whether there is a screen, the events with their
    offsets from the start (seconds), and the parts (one per consultant connection)."""
    opened = await reading.open_recording(runtime.database, session_id)
    return await reading.index(recordings.store, opened)


@router.get("/sessions/{session_id}/recording/terminal.cast", response_class=Response,
            responses={**_file_response(ASCIICAST_TYPE, "The terminal as an asciicast v2 file."), **READ_PROBLEMS})
async def recording_terminal(session_id: str, reader: RecordingReaderDep, runtime: RuntimeDep,
                             recordings: RecordingsDep) -> Response:
    """The terminal in asciinema's format (asciicast v2): output, the consultant's keys and resizes, timed from the
    recording's start; it lasts as long as the recording."""
    opened = await reading.open_recording(runtime.database, session_id)
    cast = await reading.asciicast(recordings.store, opened, title=f"session {session_id}")
    return Response(cast.encode("utf-8"), media_type=ASCIICAST_TYPE,
                    headers=_attachment(f"session-{session_id}.cast"))


@router.get("/sessions/{session_id}/recording/screen", response_class=StreamingResponse,
            responses={200: {"description": "The screen records (docs/relay.md, Playback): `>d` seconds from the "
                                            "start, `B` channel, `I` length, the channel's message.",
                             "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}},
                       **READ_PROBLEMS})
async def recording_screen(session_id: str, reader: RecordingReaderDep, runtime: RuntimeDep,
                           recordings: RecordingsDep) -> StreamingResponse:
    opened = await reading.open_recording(runtime.database, session_id)
    return StreamingResponse(reading.screen_stream(recordings.store, opened), media_type="application/octet-stream",
                             headers={"Cache-Control": "no-store"})


@router.get("/sessions/{session_id}/recording/report", response_class=Response,
            responses={**_file_response(MARKDOWN_TYPE, "The session report, a Markdown file."),
                       **problem_responses(
                           401, 403, 404, 422, 503,
                           s403="Not a reader of this session, or a ticket that is not valid for it.",
                           s404="There is no such session.")})
async def recording_report(session_id: str, reader: RecordingReaderDep, runtime: RuntimeDep,
                           recordings: RecordingsDep, lang: Literal["bg", "en"] = "bg") -> Response:
    """Who, when, the consent and its scopes, what was done (chat, files, requests for more) and the amount, in
    `lang` (Bulgarian by default). Made also after the recording is gone: its actions then come from the gateway's
    file transfers and the chat."""
    view = reader.view or await get_session(runtime, session_id=session_id)
    made = await _report_input(runtime, recordings, view, lang)
    text = session_report.render(made, MESSAGES[lang])
    return Response(text.encode("utf-8"), media_type=MARKDOWN_TYPE,
                    headers=_attachment(f"session-report-{session_id}.md"))


ARCHIVE_CHUNK_BYTES = 64 * 1024
ARCHIVE_IN_MEMORY_BYTES = 8 * 1024 * 1024  # a longer recording's archive is spooled to a temporary file


@router.get("/sessions/{session_id}/recording/archive.zip", response_class=StreamingResponse,
            responses={**_file_response(ZIP_TYPE, "The whole recording, a ZIP file."), **READ_PROBLEMS})
async def recording_archive(session_id: str, reader: RecordingReaderDep, runtime: RuntimeDep,
                            recordings: RecordingsDep, lang: Literal["bg", "en"] = "bg") -> StreamingResponse:
    """The whole recording as one file to keep: `terminal.cast` (asciicast v2), `screen.rec` (the screen records as
    `/screen` answers them), `recording.json` (the index: times, the terminal's size, the events with their offsets)
    and `report.md` (the session report in `lang`)."""
    opened = await reading.open_recording(runtime.database, session_id)
    view = reader.view or await get_session(runtime, session_id=session_id)
    store = recordings.store
    texts = {
        "terminal.cast": await reading.asciicast(store, opened, title=f"session {session_id}"),
        "recording.json": json.dumps(await reading.index(store, opened), ensure_ascii=False, indent=1),
        "report.md": session_report.render(await _report_input(runtime, recordings, view, lang), MESSAGES[lang]),
    }
    spool = tempfile.SpooledTemporaryFile(max_size=ARCHIVE_IN_MEMORY_BYTES)
    try:
        with zipfile.ZipFile(spool, "w") as archive:
            for name, text in texts.items():  # compressed in a thread: the relay shares this event loop
                await asyncio.to_thread(archive.writestr, name, text.encode("utf-8"), zipfile.ZIP_DEFLATED)
            with archive.open("screen.rec", "w", force_zip64=True) as screen:  # stored: its tiles are zlib already
                async for record in reading.screen_stream(store, opened):
                    screen.write(record)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    async def chunks():
        try:
            while chunk := spool.read(ARCHIVE_CHUNK_BYTES):
                yield chunk
        finally:
            spool.close()

    return StreamingResponse(chunks(), media_type=ZIP_TYPE, headers=_attachment(f"session-{session_id}.zip"))


async def _optional(coroutine) -> Any:
    try:
        return await coroutine
    except Problem:
        return None


async def _report_input(runtime, recordings, view: SessionView, lang: str) -> session_report.ReportInput:
    session_id = view.session_id
    receipt, bill = await asyncio.gather(_optional(call(runtime, CONSENT_RECEIPT, {"session_id": session_id})),
                                         _optional(call(runtime, BILLING_SESSION_REPORT, {"session_id": session_id})))
    row = await reading.recording_row(runtime.database, session_id)
    events = None
    if row is not None and row.status not in ("erased", "expired"):
        events = await _optional(_events(runtime, recordings, session_id))
    if events is not None:
        actions = session_report.actions_from_events(events)
    else:
        chat = await _optional(call(runtime, SESSION_CHAT_LIST, {"session_id": session_id, "after": 0}))
        actions = session_report.actions_from_records(
            file_transfers=await file_transfers(runtime.database, session_id=session_id),
            chat_messages=[message.model_dump() for message in chat.messages] if chat else [],
            observers=list(view.observers))
    billed = "billed" if bill is not None and bill.gross is not None else (
        "not_billed" if view.started_at is None else "pending")
    names = bill.service_name if bill is not None else {}
    return session_report.ReportInput(
        session=view.model_dump(mode="json"), service_name=names.get(lang) or view.service_type,
        receipt=receipt.model_dump() if receipt is not None else None,
        bill=bill.model_dump() if bill is not None else None, billed=billed,
        recording=reading.summary(row, with_erasure=True), actions=actions, made_at=utcnow())


async def _events(runtime, recordings, session_id: str) -> list[dict]:
    opened = await reading.open_recording(runtime.database, session_id)
    return await reading.collect(recordings.store, opened, recording_format.EVENTS)


async def recording_summary(database, session_id: str) -> dict | None:
    """`recording` of the session view (GET /sessions/{id}): the row's status and times, or None."""
    return reading.summary(await reading.recording_row(database, session_id))


@router.post("/sessions/{session_id}/recording/link", response_model=RecordingLinkOut,
             responses=problem_responses(
                 401, 403, 404, 410, 422, 503,
                 s403="Not this session's customer token (staff and tickets mint no links).",
                 s404="The session has no recording (`code`: recording_not_found).",
                 s410="The recording was erased or expired.",
                 s503="Playback links are not configured (`code`: recording_links_unavailable)."))
async def recording_link(session_id: str, caller: SessionCallerDep, runtime: RuntimeDep,
                         links: LinksDep) -> RecordingLinkOut:
    """A time-limited link to the playback page (RECORDING_LINK_SECONDS), for the customer to open anywhere."""
    customer_only(caller)
    await reading.open_recording(runtime.database, session_id)  # 404 or 410 when there is nothing to play
    url, expires = links.mint(session_id)
    return RecordingLinkOut(url=url, expires_at=rfc3339(datetime.fromtimestamp(expires, UTC)))


# Its own path (as terminate): one method per path keeps a 405's Allow header true (Starlette names only the first
# route's methods), and the recording's path is its readers'.
@router.post("/sessions/{session_id}/recording/erase", response_model=RecordingErasedOut,
             responses=problem_responses(
                 401, 403, 404, 410, 422, 503,
                 s403="Not this session's customer token (staff and tickets erase nothing).",
                 s404="The session has no recording (`code`: recording_not_found).",
                 s410="The recording expired: its retention deleted it already (`code`: recording_expired).",
                 s503="Erased, but part of it is still being deleted (`code`: recording_erasure_incomplete); "
                      "asking again finishes it."))
async def erase_recording(session_id: str, caller: SessionCallerDep, runtime: RuntimeDep, recordings: RecordingsDep,
                          request: Request) -> RecordingErasedOut:
    """The customer erases their recording, at once: every object deleted, the row kept as `erased` (who, when),
    audited as `recording.erased`. A running recording is stopped first. The billing record and the consent receipt
    are not touched (kept by their services for their own periods). Asking again answers the same."""
    customer_only(caller)

    async def stop(session: str) -> None:
        recordings.stop_session(session)

    erased = await erase(database=runtime.database, store=recordings.store, session_id=session_id,
                         client_address=client_address(request), stop_recording=stop)
    erasure_problem_when_incomplete(erased)
    return RecordingErasedOut(erased_at=reading.rfc3339(erased.row.erased_at))
