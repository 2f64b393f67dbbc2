"""What the routes do beyond translating: the help request, the claim, who a customer token is, and who may see or
end a session. The gateway's own transactions are opened here (and by identity, staff and termination), never by
a route."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from assist_contract.session import SessionView
from assist_platform.envelope import utcnow
from assist_platform.audit import append_audit
from assist_platform.outbox import add_event
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime

from . import crud
from .commands import (
    CONSENT_DECIDE_SCOPES,
    CONSENT_GRANT,
    CONSENT_REQUEST_SCOPES,
    SESSION_CHAT_LIST,
    SESSION_CHAT_POST,
    SESSION_CLAIM,
    SESSION_REQUEST,
    call,
    drop_none,
    get_session,
)
from .domain import CONSULTANT, may_end_session, may_post_chat, token_digest
from .events import observer_joined, observer_left
from .models import FileTransfer
from .schemas import HelpRequestIn
from .staff import StaffIdentity


class CustomerTokens:
    """Which session a customer token opens, read from the gateway's database once per token and replica.

    A customer credential is written once, with its help request, and never changed or deleted, so an answer once
    read stays true. Remembering it takes the database's round trips (each an event-loop turn behind the relays'
    frames when the gateway is busy) off a terminate's way to its cut, and off the page's polls. Only tokens that
    exist are kept: a guessed token is looked up every time. At most `capacity`, the least recently used leave
    first. (Should credentials ever be deleted, the deletion must reach this memory on every replica.)
    """

    def __init__(self, runtime: ServiceRuntime, *, capacity: int = 20_000) -> None:
        self.runtime = runtime
        self.capacity = capacity
        self._sessions: OrderedDict[str, str] = OrderedDict()  # token digest -> session id

    def remember(self, token: str, session_id: str) -> None:
        self._keep(token_digest(token), session_id)

    async def session_of(self, token: str) -> str | None:
        """The session whose customer holds `token`, or None."""
        digest = token_digest(token)
        known = self._sessions.get(digest)
        if known is not None:
            self._sessions.move_to_end(digest)
            return known
        async with self.runtime.database.session() as db:
            session_id = await crud.session_of_token_digest(db=db, digest=digest)
        if session_id is not None:
            self._keep(digest, session_id)
        return session_id

    def _keep(self, digest: str, session_id: str) -> None:
        self._sessions[digest] = session_id
        self._sessions.move_to_end(digest)
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)


async def request_help(
    *, runtime: ServiceRuntime, customer_tokens: CustomerTokens, request: HelpRequestIn, client_address: str,
    user_agent: str,
) -> dict[str, Any]:
    """Grant the consent, then open the session; the customer token is remembered here, hashed."""
    if not request.consent.accepted:
        raise Problem(
            422, "Consent required", "consent.accepted must be true: we help only with your consent."
        )
    session_id = str(uuid.uuid4())
    customer = drop_none(request.customer.model_dump())
    consent = await call(
        runtime,
        CONSENT_GRANT,
        {
            "session_id": session_id,
            "customer": customer,
            "terms_version": request.consent.terms_version,
            "scopes": request.consent.scopes,
            "client_address": client_address,
            "user_agent": user_agent[:500],
        },
    )
    # If this fails, the consent stays behind without a session: it opens nothing and expires by itself.
    session = await call(
        runtime,
        SESSION_REQUEST,
        {
            "session_id": session_id,
            "customer": customer,
            "service_type": request.service_type,
            "description": request.description,
            "consent_id": consent.consent_id,
            "scopes": consent.scopes,
        },
    )
    async with runtime.database.transaction() as db:
        await crud.store_customer_credential(
            db=db, session_id=session_id, customer_token=session.customer_token
        )
    customer_tokens.remember(session.customer_token, session_id)  # committed: its session exists from now on
    return session.model_dump(mode="json", include={"session_id", "session_code", "customer_token", "status",
                                                    "expires_at"})


async def authorize_staff_end(*, runtime: ServiceRuntime, session_id: str, staff: StaffIdentity) -> None:
    """404 for an unknown session, 403 unless `staff` may end it.

    While the session service is unreachable, the assignment the gateway recorded at claim time decides,
    so an assigned consultant can still end (and cut) the session.
    """
    try:
        assigned = (await get_session(runtime, session_id=session_id)).consultant
    except Problem as problem:
        if problem.status != 503:
            raise
        async with runtime.database.session() as db:
            assigned = await crud.assigned_consultant(db=db, session_id=session_id)
        if assigned is None and not may_end_session(
            username=staff.username, role=staff.role, assigned_consultant=None
        ):
            raise
    if not may_end_session(username=staff.username, role=staff.role, assigned_consultant=assigned):
        raise Problem(403, "Forbidden", "Only the assigned consultant or a supervisor may end this session.")


async def ask_customer_for_scopes(
    *, runtime: ServiceRuntime, session_id: str, staff: StaffIdentity, scopes: list[str], reason: str
) -> dict:
    """The assigned consultant of a running session asks its customer for more (a step-up); the consent service
    records it and tells the session's relays, which show it to the agent and the console. Nobody else may ask:
    a supervisor oversees, and a consultant is admitted to their own session only."""
    view = await get_session(runtime, session_id=session_id)
    if staff.role != CONSULTANT or view.consultant != staff.username:
        raise Problem(403, "Forbidden", "Only the consultant assigned to this session may ask its customer.")
    if view.status not in ("assigned", "active"):
        raise Problem(409, "Session not running", "The session has ended: ask in a new session.",
                      code="consent_not_in_force")
    asked = await call(runtime, CONSENT_REQUEST_SCOPES, {"session_id": session_id, "scopes": scopes,
                                                         "reason": reason, "requested_by": staff.username})
    return asked.model_dump()


async def answer_scope_request(
    *, runtime: ServiceRuntime, session_id: str, request_id: str, approve: bool, client_address: str | None = None,
    user_agent: str | None = None,
) -> dict:
    """The customer's answer (from their page or their agent), recorded once by the consent service, which widens
    the session's relays on an approval; 409 when it was answered already."""
    decided = await call(runtime, CONSENT_DECIDE_SCOPES, drop_none({
        "session_id": session_id, "request_id": request_id, "approve": approve, "actor": "customer",
        "client_address": client_address, "user_agent": user_agent}))
    return decided.model_dump()


async def claim_session(*, runtime: ServiceRuntime, session_id: str, consultant: str,
                        client_address: str | None) -> SessionView:
    """The session service assigns it; the gateway remembers the assignment, so that the consultant can still end
    (and cut) the session while the session service is unreachable (`authorize_staff_end`)."""
    view = await call(runtime, SESSION_CLAIM, {"session_id": session_id, "consultant": consultant,
                                               "client_address": client_address})
    async with runtime.database.transaction() as db:
        await crud.record_assignment(db=db, session_id=session_id, consultant=consultant)
    return view


async def record_watch(database, *, session_id: str, observation_id: str, observer: str, joined: bool) -> None:
    """`gateway.observer_joined` or `gateway.observer_left` through the outbox (the session service keeps who
    watches, which the customer's page shows)."""
    event = observer_joined if joined else observer_left
    async with database.transaction() as db:
        add_event(db, event(session_id=session_id, observation_id=observation_id, observer=observer, at=utcnow()))


async def chat_history(runtime: ServiceRuntime, *, session_id: str, after: int) -> dict:
    return (await call(runtime, SESSION_CHAT_LIST, {"session_id": session_id, "after": after})).model_dump(
        mode="json")


async def post_chat(runtime: ServiceRuntime, *, session_id: str, text: str, staff: StaffIdentity | None) -> dict:
    """A message of the session's customer (`staff` None: their token, or their agent), signed with their name, or
    of its assigned consultant; 403 for anyone else."""
    view = await get_session(runtime, session_id=session_id)
    if staff is None:
        role, author = "customer", str((view.customer or {}).get("name") or "customer")
    elif may_post_chat(username=staff.username, role=staff.role, assigned_consultant=view.consultant):
        role, author = "consultant", staff.username
    else:
        raise Problem(403, "Forbidden", "Only the session's customer and its assigned consultant write in its chat.")
    message = await call(runtime, SESSION_CHAT_POST, {"session_id": session_id, "role": role, "author": author,
                                                      "text": text})
    return message.model_dump(mode="json")


# --- file transfers (#17): what the relay saw, for the customer's page and the audit trail ---------------------------
FILE_OUTCOMES = ("done", "refused", "cancelled", "failed")


def _file_detail(row: FileTransfer) -> dict:
    return {"transfer_id": row.transfer_id, "direction": row.direction, "name": row.name, "size": row.size,
            "sha256": row.sha256, "received_sha256": row.received_sha256, "status": row.status,
            "bytes": row.bytes_done, "reason": row.reason, "consultant": row.consultant}


async def record_file_offer(database, *, session_id: str, transfer_id: str, direction: str, name: str, size: int,
                            sha256: str, consultant: str, status: str = "offered", reason: str | None = None,
                            actor: str = "") -> None:
    """A transfer offered (an offer again after a drop changes nothing). One the gateway refused at once (over
    FILE_TRANSFER_MAX_BYTES: `status` "refused") is audited as it is recorded."""
    row = FileTransfer(session_id=session_id, transfer_id=transfer_id, direction=direction, name=name[:255],
                       size=size, sha256=sha256, status=status, reason=reason, consultant=consultant[:64])
    async with database.transaction() as db:
        if await crud.add_file_transfer(db=db, transfer=row) and status in FILE_OUTCOMES:
            await append_audit(db, action=f"file.{status}", actor=actor or consultant, session_id=session_id,
                               detail=_file_detail(row))


async def record_file_progress(database, *, session_id: str, transfer_id: str, status: str, bytes_done: int) -> None:
    """How far an open transfer got (its receiver's `file.accept` and `file.progress`, at most once a second)."""
    async with database.transaction() as db:
        await crud.move_open_file_transfers(db=db, session_id=session_id, transfer_id=transfer_id, status=status,
                                            bytes_done=bytes_done)


async def record_file_outcome(database, *, session_id: str, transfer_id: str | None, status: str, actor: str,
                              reason: str | None = None, received_sha256: str | None = None,
                              bytes_done: int | None = None) -> int:
    """How open transfers ended (one, or with `transfer_id` None every open one of the session: the `files` scope
    taken back, the session's end), each with its audit entry in the same transaction: direction, name, size, the
    offer's SHA-256 and the receiver's, status, reason, who. A transfer already closed is not touched again. How
    many were closed."""
    fields = {"status": status, "reason": reason[:200] if reason else None}
    if received_sha256 is not None:
        fields["received_sha256"] = received_sha256
    if bytes_done is not None:
        fields["bytes_done"] = bytes_done
    async with database.transaction() as db:
        rows = await crud.move_open_file_transfers(db=db, session_id=session_id, transfer_id=transfer_id, **fields)
        for row in rows:
            await append_audit(db, action=f"file.{status}", actor=actor, session_id=session_id,
                               detail=_file_detail(row))
    return len(rows)


async def file_transfers(database, *, session_id: str) -> list[dict]:
    async with database.session() as db:
        rows = await crud.file_transfers_of(db=db, session_id=session_id)
    return [{"transfer_id": row.transfer_id, "direction": row.direction, "name": row.name, "size": row.size,
             "sha256": row.sha256, "received_sha256": row.received_sha256, "bytes_done": row.bytes_done,
             "status": row.status, "reason": row.reason, "offered_at": row.offered_at, "updated_at": row.updated_at}
            for row in rows]
