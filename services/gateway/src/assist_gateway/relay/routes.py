"""The WebSocket doors of the relay (CONTRACT §3): `/ws/v1/agent` and `/ws/v1/consultant/{session_id}`, a
supervisor's `/ws/v1/observer/{session_id}` (watching, view only: issue #16), and the customer's browser showing its
screen, `/ws/v1/share/{session_id}` (view only, issue #18: share.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from assist_contract import session as session_service
from assist_contract.consent_rules import SCOPES
from assist_contract.session import AttachedAgent, SessionView
from assist_contract.spec import CommandSpec
from assist_platform.audit import record_audit
from assist_platform.problems import Problem
from assist_platform.retrying import every, retrying, unavailable
from fastapi import APIRouter, WebSocket
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.websockets import WebSocketDisconnect

from ..domain import SESSION_OVERSEER_ROLES, token_digest
from ..service import record_watch
from ..edge import client_address, origin_allowed
from ..identity import TOKEN_COOKIE
from ..ratelimit import FailureBudget, OverBudget
from . import closecodes
from .endpoint import Endpoint
from .frames import CHANNEL_NAMES, OBSERVER_REASON, TEXT_REASON, refusal_reason, scope_needed
from .hub import RelayCore
from .session import SessionRelay
from .share import NO_CONSULTANT_REASON, browser_screen, share_frame_refusal, share_token

log = logging.getLogger(__name__)

SESSION_CODE = re.compile(r"^\d{9}$")
_ASKS_AFTER_A_LOST_REPLY, _PAUSE_BEFORE_ASKING_AGAIN = 3, 0.25

_PROBLEM_TO_CLOSE = {
    401: closecodes.NOT_AUTHENTICATED,
    403: closecodes.NOT_PERMITTED,
    404: closecodes.NOT_PERMITTED,
    409: closecodes.NOT_PERMITTED,
    410: closecodes.SESSION_ENDED,
    503: closecodes.TRY_AGAIN_LATER,
}


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _refusal(problem: Problem) -> Refused:
    return Refused(_PROBLEM_TO_CLOSE.get(problem.status, closecodes.NOT_PERMITTED), problem.detail or problem.title)


def staff_token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return websocket.cookies.get(TOKEN_COOKIE)


class RelayHub(RelayCore):
    """What the gateway app wires in: `on_connected`, `router`, `cut_session_locally`, `close`."""

    def __init__(self, *, settings, runtime, authenticate_staff: Callable[[str], Awaitable[object | None]],
                 still_signed_in: Callable[[set[str]], Awaitable[set[str]]]) -> None:
        super().__init__(settings=settings, runtime=runtime)
        self._authenticate_staff = authenticate_staff
        self._still_signed_in = still_signed_in
        # Set by the app: ends the session as the customer's terminate does (the agent speaks for the customer).
        self.end_session_from_agent: Callable[[str], Awaitable[None]] | None = None
        # Set by the app: the customer pressed C at the agent, which takes `control` back everywhere (#16).
        self.withdraw_scope_from_agent: Callable[[str, str], Awaitable[None]] | None = None
        # Set by the app: the customer wrote in the chat at the agent (session, text).
        self.post_chat_from_agent: Callable[[str, str], Awaitable[None]] | None = None
        # Set by the app: the customer answered a step-up request at the agent (session, request id, approve).
        self.decide_scopes_from_agent: Callable[[str, str, bool], Awaitable[None]] | None = None
        # Set by the app: the session a customer token opens, or None (service.CustomerTokens.session_of).
        self.session_of_customer_token: Callable[[str], Awaitable[str | None]] | None = None
        self._code_failures = FailureBudget(per_key=settings.code_failures_per_address,
                                            total=settings.code_failures_per_minute_total, window_seconds=60.0)
        self._max_message = settings.relay_max_message_bytes
        self.router = APIRouter()
        self.router.add_api_websocket_route("/ws/v1/agent", self.agent_socket)
        self.router.add_api_websocket_route("/ws/v1/consultant/{session_id}", self.consultant_socket)
        self.router.add_api_websocket_route("/ws/v1/observer/{session_id}", self.observer_socket)
        self.router.add_api_websocket_route("/ws/v1/share/{session_id}", self.share_socket)

    # Each door admits in a helper of its own and only then serves: the session's view (dozens of objects) goes
    # with the helper's frame instead of staying alive, per socket, for as long as the relay is open.
    async def agent_socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        async with _closing_on_failure(websocket):
            endpoint, hello = await self._admit_agent(websocket)
            await self._serve(endpoint, hello=hello)

    async def _admit_agent(self, websocket: WebSocket) -> tuple[Endpoint, dict]:
        params = websocket.query_params
        # Only failed attempts count (per address and in total), so guessing the 10^9 codes or a resume token is
        # slow, while customers behind one NAT, or an agent whose network flaps, attach and resume freely. Past
        # the budget even the right code is refused before it is looked at: a guesser learns nothing.
        try:
            async with self._code_failures.attempt(
                    client_address(websocket), wait_seconds=self.settings.command_timeout_seconds) as attempt:
                if params.get("resume"):
                    command, payload = session_service.resume_agent, {
                        "session_id": params.get("session", ""), "resume_token": params["resume"]}
                elif SESSION_CODE.match(params.get("code", "")):
                    # The resume token is ours to choose: it makes asking again after a lost reply the same attach.
                    command, payload = session_service.attach_agent, {"session_code": params["code"],
                                                                      "resume_token": secrets.token_urlsafe(32)}
                else:
                    attempt.failed = True
                    raise Refused(closecodes.NOT_PERMITTED, "a session code is 9 digits")
                try:
                    view = await self._call_again_if_lost(command, payload)
                except Problem as problem:
                    # A 503 says nothing about the code (the session service is away): no failure of the caller's.
                    attempt.failed = problem.status != 503
                    raise _refusal(problem) from problem
        except OverBudget:
            raise Refused(closecodes.TOO_MANY_ATTEMPTS, "too many failed session code attempts; wait a minute") \
                from None
        endpoint = Endpoint(role="agent", session_id=view.session_id, websocket=websocket)
        attached = isinstance(view, AttachedAgent)  # a first attach; a resume answers the plain view
        hello = {"type": "attached", "session_id": view.session_id, "status": view.status,
                 "consultant": view.consultant, "resumed": not attached}
        if attached:
            hello["resume_token"] = view.resume_token
        return endpoint, hello

    async def _call_again_if_lost(self, command: CommandSpec[Any, SessionView], payload: dict) -> SessionView:
        """A command whose answer may have been lost with a NATS node, asked again (it is idempotent) a few times
        before the agent is told to try later: its code would be spent by then."""
        policy = retrying(what=command.subject, retry_on=unavailable, attempts=_ASKS_AFTER_A_LOST_REPLY,
                          first=_PAUSE_BEFORE_ASKING_AGAIN, most=_PAUSE_BEFORE_ASKING_AGAIN)
        async for attempt in policy:
            with attempt:
                return await command(self.nc(), payload, timeout=self.settings.command_timeout_seconds)
        raise AssertionError("unreachable: the policy re-raises the last failure")

    async def consultant_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with _closing_on_failure(websocket):
            endpoint, hello = await self._admit_consultant(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _staff_at_door(self, websocket: WebSocket, door: str) -> tuple[Any, str]:
        """The staff member opening a staff door, and their token; refused without a login, and from a page of
        another origin.

        A browser sends the SameSite cookie with a socket any page of the same site opens (another port, another
        subdomain): the cookie alone is no proof that the gateway's own page opened it, its Origin is. A program
        sends the token in a header that no page can make a browser send, so it needs no Origin."""
        bearer = websocket.headers.get("authorization", "").lower().startswith("bearer ")
        if not bearer and TOKEN_COOKIE in websocket.cookies and not origin_allowed(
                websocket, self.settings.public_origin_list):
            raise Refused(closecodes.NOT_PERMITTED, f"this page's origin may not open the {door} socket")
        token = staff_token(websocket)
        identity = await self._authenticate_staff(token) if token else None
        if identity is None:
            raise Refused(closecodes.NOT_AUTHENTICATED, "log in first")
        return identity, token

    async def _running_session(self, session_id: str) -> SessionView:
        """The session's view; refused once it has ended (known here, or said by the session service)."""
        if session_id in self.ended:
            raise Refused(closecodes.SESSION_ENDED, self.ended[session_id])
        try:
            view = await session_service.get(self.nc(), {"session_id": session_id},
                                             timeout=self.settings.command_timeout_seconds)
        except Problem as problem:
            raise _refusal(problem) from problem
        if view.status == "ended":
            raise Refused(closecodes.SESSION_ENDED, closecodes.ended_reason(view.end_reason, view.ended_by))
        return view

    async def _admit_consultant(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        identity, token = await self._staff_at_door(websocket, "consultant")
        view = await self._running_session(session_id)
        if view.status not in ("assigned", "active") or view.consultant != identity.username:
            raise Refused(closecodes.NOT_PERMITTED, "this session is not assigned to you")
        endpoint = Endpoint(role="consultant", session_id=session_id, websocket=websocket, who=identity.username,
                            credential=token_digest(token))
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status}

    async def observer_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with _closing_on_failure(websocket):
            endpoint, hello = await self._admit_observer(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _admit_observer(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        """A supervisor (or an admin) watches a running session, view only; the customer is told who first."""
        identity, token = await self._staff_at_door(websocket, "observer")
        if identity.role not in SESSION_OVERSEER_ROLES:
            raise Refused(closecodes.NOT_PERMITTED, "only a supervisor may watch a session")
        view = await self._running_session(session_id)
        if view.status != "active":
            raise Refused(closecodes.NOT_PERMITTED, "only a running session can be watched")
        endpoint = Endpoint(role="observer", session_id=session_id, websocket=websocket, who=identity.username,
                            credential=token_digest(token))
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status, "role": "observer"}

    async def share_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with _closing_on_failure(websocket):
            endpoint, hello = await self._admit_share(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _admit_share(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        """The customer's page shows its screen to the consultant who joined (#18). Its credential is the session's
        customer token, in the socket's first text frame `{"type": "hello", "token": ...}` (a page cannot set a
        socket's headers, and a URL is logged on the way); only the gateway's own page opens it (its Origin)."""
        if not origin_allowed(websocket, self.settings.public_origin_list):
            raise Refused(closecodes.NOT_PERMITTED, "only the gateway's own page may share a screen")
        token = await share_token(websocket)
        owner = await self.session_of_customer_token(token) if token and self.session_of_customer_token else None
        if owner is None:
            raise Refused(closecodes.NOT_AUTHENTICATED, "send this session's customer token first")
        if owner != session_id:
            raise Refused(closecodes.NOT_PERMITTED, "this customer token belongs to another session")
        view = await self._running_session(session_id)
        if view.status not in ("assigned", "active") or not await self.consultant_present(session_id):
            raise Refused(closecodes.NOT_PERMITTED, NO_CONSULTANT_REASON)
        endpoint = Endpoint(role="share", session_id=session_id, websocket=websocket, who="customer")
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status, "role": "share"}

    # --- logins that end ------------------------------------------------------------------------------------
    async def on_connected(self, runtime) -> None:
        await super().on_connected(runtime)
        self._tasks.append(asyncio.create_task(self._watch_logins(), name="relay-login-watch"))

    def close_signed_out(self, digests: set[str]) -> None:
        """Close (4401) every consultant socket on this replica that one of these logins opened: a logout here
        closes its sockets at once; the other replicas' watch closes theirs (`_watch_logins`)."""
        for endpoint in self.leases.endpoints:
            if endpoint.credential and endpoint.credential in digests:
                log.info("the login of %s that opened session %s ended: closing their socket", endpoint.who,
                         endpoint.session_id)
                endpoint.cut_now(code=closecodes.NOT_AUTHENTICATED, reason=closecodes.LOGIN_ENDED)

    async def _check_logins(self) -> None:
        opened_by = {endpoint.credential for endpoint in self.leases.endpoints if endpoint.credential}
        if opened_by:
            self.close_signed_out(opened_by - await self._still_signed_in(opened_by))

    async def _watch_logins(self) -> None:
        """Every STAFF_RECHECK_SECONDS: a consultant who logged out on another replica, or whose login expired or
        whose account is gone, keeps no socket open here."""
        await every(lambda: self.settings.staff_recheck_seconds, self._check_logins, what="login watch",
                    expected=(OperationalError, InterfaceError))

    async def _serve(self, endpoint: Endpoint, *, hello: dict) -> None:
        if endpoint.session_id in self.ended:
            raise Refused(closecodes.SESSION_ENDED, self.ended[endpoint.session_id])
        try:
            await self.leases.acquire(endpoint)
        except Problem as problem:
            raise _refusal(problem) from problem
        if endpoint.session_id in self.ended:  # cut while the lease was on its way
            self._cut_endpoint(endpoint, reason=self.ended[endpoint.session_id])
            return
        relay: SessionRelay | None = None
        audited = False
        try:
            # `attached` first: attaching may announce the pairing (`peer_joined`) at once when the other side is
            # already there, and a peer must know it is attached before it hears who joined.
            await endpoint.send_control(json.dumps({**hello, "scopes": list(endpoint.scopes),
                                                    "file_max_bytes": self.settings.file_transfer_max_bytes,
                                                    "recording": self.settings.recording_enabled}))
            attach = {"agent": self.attach_agent, "consultant": self.attach_consultant,
                      "observer": self.attach_observer, "share": self.attach_share}[endpoint.role]
            try:
                relay = await attach(endpoint)
            except Problem as problem:
                raise _refusal(problem) from problem
            await self._audit(endpoint, "relay.connected")
            audited = True
            if endpoint.role == "observer":
                await self._observer_event(endpoint, joined=True)
                await self._refuse_all(endpoint)
                return
            await self._pump(relay, endpoint)
        finally:
            if endpoint.read_ahead is not None and endpoint.read_ahead.task is not None:
                endpoint.read_ahead.task.cancel()  # reading ahead for a hold that ended with the socket
            # An attach that failed half-way may have left the endpoint in its relay: a peer must not wait on it.
            relay = relay or self.relay_holding(endpoint)
            if relay is not None:
                await self.detach(relay, endpoint)
            else:
                await self.leases.release(endpoint)
            if audited:
                await self._audit(endpoint, "relay.disconnected")
                if endpoint.role == "observer":
                    await self._observer_event(endpoint, joined=False)

    async def _audit(self, endpoint: Endpoint, action: str) -> None:
        """The audit trail's connect and disconnect, each in a short transaction of its own."""
        try:
            await record_audit(
                self.runtime.database, action=action, actor=endpoint.who or endpoint.role,
                session_id=endpoint.session_id, client_address=client_address(endpoint.websocket),
                detail={"role": endpoint.role, "replica": self.replica_id, "scopes": list(endpoint.scopes)},
            )
        except Exception:
            if action == "relay.connected":
                raise  # fail closed: nobody is relayed without a record of it
            log.exception("could not audit %s of session %s", action, endpoint.session_id)

    async def _observer_event(self, endpoint: Endpoint, *, joined: bool) -> None:
        """`gateway.observer_joined` (fail closed: nobody watches unrecorded) or `gateway.observer_left`, through
        the outbox: the session service keeps who watches, which the customer's page shows."""
        try:
            await record_watch(self.runtime.database, session_id=endpoint.session_id,
                               observation_id=endpoint.lease_id, observer=endpoint.who, joined=joined)
        except Exception:
            if joined:
                raise
            log.exception("could not record that %s stopped watching session %s", endpoint.who, endpoint.session_id)

    async def _closed_if_too_big(self, websocket: WebSocket, size: int) -> bool:
        """A message over RELAY_MAX_MESSAGE_BYTES closes its socket (1009); whether it did."""
        if size <= self._max_message:
            return False
        await _close(websocket, closecodes.MESSAGE_TOO_BIG, f"messages are limited to {self._max_message} bytes")
        return True

    async def _refuse_all(self, endpoint: Endpoint) -> None:
        """An observer only watches: whatever its socket sends (binary or text) is refused, never forwarded; it is
        read only to hear it close."""
        websocket = endpoint.websocket
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if await self._closed_if_too_big(websocket, len(message.get("bytes") or message.get("text") or "")):
                return
            if not endpoint.cut:
                await self.refuse(endpoint, "observer", OBSERVER_REASON)

    async def _pump(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        """Frames of one endpoint to its peer. Only binary frames pass: a text frame is the gateway's alone (CONTRACT
        §3), so an endpoint's text is read (the agent's `end_session`) or refused, never forwarded; and a consultant
        whose consent lacks `control` has its keystrokes and input events refused here, on its own replica, whose
        lease carries the scopes, before they could reach any home (defence in depth: the agent refuses them too).
        A frame that cannot pass yet holds this loop in `forward`; what was read ahead meanwhile comes next."""
        websocket = endpoint.websocket
        # The scopes are the lease's, narrowed when the customer takes one back: asked of each frame that needs one.
        role = endpoint.role
        while True:
            try:
                if endpoint.read_ahead is None:
                    message = await websocket.receive()
                else:
                    message = await self.next_message(endpoint)
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            text = message.get("text") if data is None else None
            if await self._closed_if_too_big(websocket, len(data) if data is not None else len(text or "")):
                return
            if endpoint.cut:
                continue  # drain until the close handshake completes; nothing passes
            if data is None:
                await self.take_text(endpoint, text or "")
                continue
            if role == "share":  # the customer's browser: its screen updates only, to the consultant on channel 6
                if (reason := share_frame_refusal(data)) is not None:
                    await self.refuse(endpoint, "share", reason)
                    continue
                data = browser_screen(data)
            needed = scope_needed(role, data)
            if needed is not None and not endpoint.allows(needed):
                await self.refuse(endpoint, CHANNEL_NAMES[data[0]], refusal_reason(needed))
                continue
            if data[0] == 5 and (reason := self.file_frame_refusal(endpoint, data)) is not None:
                await self.refuse(endpoint, "files", reason)  # over the size limit, not offered, malformed
                continue
            await self.forward(relay, endpoint, data)

    async def take_text(self, endpoint: Endpoint, text: str) -> None:
        """The agent's `end_session` ends the session, its `withdraw_scope` (`control` only) takes control back and
        its `scope_decision` answers a step-up request; any other text frame is refused, never forwarded."""
        kind, detail = _agent_request(text) if endpoint.role == "agent" else (None, None)
        if kind == "end_session":
            await self._end_from_agent(endpoint)
        elif kind == "withdraw_scope":
            await self._withdraw_scope_from_agent(endpoint, detail["scope"])
        elif kind == "chat" and self.post_chat_from_agent is not None:
            try:
                await self.post_chat_from_agent(endpoint.session_id, detail["text"])
            except Problem as problem:  # empty, too long, or the session ended meanwhile
                log.info("a chat message from the agent of %s: %s", endpoint.session_id, problem.detail)
        elif kind == "scope_decision" and self.decide_scopes_from_agent is not None:
            try:
                await self.decide_scopes_from_agent(endpoint.session_id, detail["request_id"], detail["approve"])
            except Problem as problem:  # answered already (from the page), or the session ended meanwhile
                log.info("step-up answer from the agent of %s: %s", endpoint.session_id, problem.detail)
        else:
            await self.refuse(endpoint, "text", TEXT_REASON)

    async def _withdraw_scope_from_agent(self, endpoint: Endpoint, scope: str) -> None:
        # Narrow this side at once, whatever happens next; the withdrawal then narrows every replica (`view`: ends).
        self.narrow_endpoints_here(endpoint.session_id, without=scope)
        if self.withdraw_scope_from_agent is not None:
            try:
                await self.withdraw_scope_from_agent(endpoint.session_id, scope)
            except Problem as problem:
                log.warning("taking %s back from the agent of %s: %s", scope, endpoint.session_id, problem.detail)

    async def _end_from_agent(self, endpoint: Endpoint) -> None:
        # Stop this side at once, whatever happens next; the terminate path then cuts every replica.
        self.cut_session_locally(endpoint.session_id, ended_by="customer", reason="customer_terminated")
        if self.end_session_from_agent is not None:
            try:
                await self.end_session_from_agent(endpoint.session_id)
            except Problem as problem:
                log.warning("ending session %s from its agent: %s", endpoint.session_id, problem.detail)


# A chat message of 2000 characters, each written as \uXXXX at worst, and its JSON around it.
_AGENT_TEXT_MAX = 2000 * 6 + 100


def _agent_request(text: str | None) -> tuple[str | None, dict | None]:
    """The customer's requests the gateway reads from an agent's text frames (docs/protocol.md): "end_session" for
    `{"type": "end_session"}`, "withdraw_scope" for `{"type": "withdraw_scope", "scope": <a scope but view>}`,
    "scope_decision" for `{"type": "scope_decision", "request_id": "...", "approve": true|false}` (with those two),
    "chat" for `{"type": "chat", "text": "..."}` (the customer's chat message, 1 to 2000 characters); else (None,
    None)."""
    if not text or len(text) > _AGENT_TEXT_MAX:
        return None, None
    try:
        message = json.loads(text)
        kind = message.get("type")
    except (ValueError, AttributeError):
        return None, None
    if kind == "chat" and isinstance(message.get("text"), str) and 0 < len(message["text"]) <= 2000:
        return "chat", {"text": message["text"]}
    if len(text) > 200:  # the customer's other requests are short
        return None, None
    if kind == "end_session":
        return "end_session", None
    if kind == "withdraw_scope" and message.get("scope") in SCOPES and message["scope"] != "view":  # Q ends
        return "withdraw_scope", {"scope": message["scope"]}
    request_id, approve = message.get("request_id"), message.get("approve")
    if kind == "scope_decision" and isinstance(request_id, str) and 0 < len(request_id) <= 36 and isinstance(
            approve, bool):
        return "scope_decision", {"request_id": request_id, "approve": approve}
    return None, None


@asynccontextmanager
async def _closing_on_failure(websocket: WebSocket):
    """A refusal closes with its code, the database being away with 1013, anything else with 1011 and a log line.
    A handler that raised would have its connection dropped by uvicorn without a close frame, which a client
    cannot tell from a network failure."""
    try:
        yield
    except Refused as refused:
        await _close(websocket, refused.code, refused.reason)
    except Exception as error:
        if _database_unavailable(error):
            # The gateway's database is away (a restart): nobody is relayed without an audit record; try later.
            log.warning("relay socket %s refused: the database is unavailable", websocket.url.path)
            await _close(websocket, closecodes.TRY_AGAIN_LATER, "the gateway cannot record connections right now")
        else:
            log.exception("relay socket %s failed", websocket.url.path)
            await _close(websocket, closecodes.INTERNAL_ERROR, "internal error")


def _database_unavailable(error: Exception) -> bool:
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason[:120])
    except Exception:
        pass
