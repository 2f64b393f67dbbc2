"""The session service's commands (docs/commands.md): each registered through its spec in
`assist_contract.session` (subject, input model), with one thin handler."""

from __future__ import annotations

from datetime import UTC

from assist_contract import session as contract
from assist_contract.session import (
    ActivateInput,
    AgentMarkInput,
    AttachAgentInput,
    AttachedAgent,
    ChatListInput,
    ChatMessages,
    ChatPostInput,
    ClaimInput,
    ListInput,
    QueueInput,
    RequestedSession,
    RequestInput,
    ResumeAgentInput,
    SessionIdInput,
    SessionList,
    SessionView,
)
from assist_contract.spec import command_table
from assist_platform.audit import audit_handler
from assist_platform.commands import refusals_as_problems
from assist_platform.runtime import Command

from . import domain
from .domain import CodeGone, InvalidInput, QueueFull, Status, TransitionRefused
from .events import chat_message_data
from .service import SessionService
from .views import session_list, session_view

# A refusal of the rules leaves as the problem a caller can act on (422, 409, 410, 429), never as a 500.
_rules_as_problems = refusals_as_problems([
    (InvalidInput, 422, "Invalid request"),
    (TransitionRefused, 409, "Conflict"),
    (CodeGone, 410, "Gone"),
    (QueueFull, 429, "Too many requests"),
])


class SessionCommands:
    """The handlers: each translates its input into one call of the service, which owns the transaction, and the
    result into the answer."""

    def __init__(self, service: SessionService) -> None:
        self._service = service

    def commands(self) -> list[Command]:
        table = {
            contract.request: self.request,
            contract.get: self.get,
            contract.queue: self.queue,
            contract.list_sessions: self.list,
            contract.claim: self.claim,
            contract.attach_agent: self.attach_agent,
            contract.resume_agent: self.resume_agent,
            contract.activate: self.activate,
            contract.agent_away: self.agent_away,
            contract.agent_back: self.agent_back,
            contract.chat_post: self.chat_post,
            contract.chat_list: self.chat_list,
            contract.audit: audit_handler(service="session", database=self._service.database),
        }
        return command_table(table, wrap=_rules_as_problems)

    async def request(self, request: RequestInput) -> RequestedSession:
        session, token = await self._service.request(
            session_id=request.session_id, customer=request.customer.model_dump(),
            service_type=request.service_type, description=request.description, consent_id=request.consent_id,
            scopes=request.scopes,
        )
        return RequestedSession(
            session_id=session.session_id,
            session_code=session.session_code,
            customer_token=token,
            status=session.status,
            expires_at=session.request_expires_at,
            code_expires_at=session.code_expires_at,
        )

    async def chat_post(self, request: ChatPostInput) -> dict:
        message = await self._service.post_chat(session_id=request.session_id, role=request.role,
                                                author=request.author, text=request.text)
        return chat_message_data(message)

    async def chat_list(self, request: ChatListInput) -> ChatMessages:
        messages = await self._service.chat(session_id=request.session_id, after=request.after)
        return ChatMessages(messages=[chat_message_data(message) for message in messages])

    async def get(self, request: SessionIdInput) -> SessionView:
        return session_view(await self._service.get(session_id=request.session_id))

    async def queue(self, _request: QueueInput) -> SessionList:
        return session_list(await self._service.queue())

    async def list(self, request: ListInput) -> SessionList:
        return session_list(await self._service.list_sessions(
            status=Status(request.status) if request.status else None, consultant=request.consultant,
            limit=request.limit,
        ))

    async def claim(self, request: ClaimInput) -> SessionView:
        return session_view(await self._service.claim(
            session_id=request.session_id, consultant=request.consultant, client_address=request.client_address,
        ))

    async def attach_agent(self, request: AttachAgentInput) -> AttachedAgent:
        session, resume_token = await self._service.attach_agent(
            session_code=request.session_code, resume_token=request.resume_token
        )
        return AttachedAgent(**session_view(session).model_dump(), resume_token=resume_token)

    async def resume_agent(self, request: ResumeAgentInput) -> SessionView:
        return session_view(await self._service.resume_agent(
            session_id=request.session_id, resume_token=request.resume_token
        ))

    async def activate(self, request: ActivateInput) -> SessionView:
        return session_view(await self._service.activate(
            session_id=request.session_id, at=request.at.astimezone(UTC)
        ))

    async def agent_away(self, request: AgentMarkInput) -> SessionView:
        return await self._agent_mark(request, kind=domain.AGENT_AWAY)

    async def agent_back(self, request: AgentMarkInput) -> SessionView:
        return await self._agent_mark(request, kind=domain.AGENT_BACK)

    async def _agent_mark(self, request: AgentMarkInput, *, kind: str) -> SessionView:
        return session_view(await self._service.record_agent_mark(
            session_id=request.session_id, kind=kind, at=request.at.astimezone(UTC)
        ))
