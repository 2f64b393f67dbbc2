"""The agent's door, `/ws/v1/agent` (CONTRACT §3): attaching by session code or resuming, under a budget of failed
attempts, and the customer's requests the agent carries in its text frames."""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from assist_contract import session as session_service
from assist_contract.consent_rules import SCOPES
from assist_contract.session import AttachedAgent, SessionView
from assist_contract.spec import CommandSpec
from assist_platform.problems import Problem
from assist_platform.retrying import retrying, unavailable
from fastapi import WebSocket

from ..edge import client_address
from ..ratelimit import OverBudget
from . import closecodes
from .admission import Refused, closing_on_failure, refusal
from .endpoint import Endpoint
from .frames import TEXT_REASON

log = logging.getLogger(__name__)

SESSION_CODE = re.compile(r"^\d{9}$")
_ASKS_AFTER_A_LOST_REPLY, _PAUSE_BEFORE_ASKING_AGAIN = 3, 0.25


class AgentDoor:
    """The agent's socket and its admission, and what the gateway reads of an endpoint's text frames."""

    async def agent_socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        async with closing_on_failure(websocket):
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
                    raise refusal(problem) from problem
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
