"""The session service's commands (docs/commands.md): one input model and one thin handler each."""

from __future__ import annotations

from datetime import UTC

from assist_platform.commands import refusals_as_problems
from assist_platform.runtime import Command, command_table
from pydantic import AwareDatetime, BaseModel, Field

from . import domain
from .domain import CodeGone, InvalidInput, QueueFull, Status, TransitionRefused
from .service import SessionService
from .views import RequestedSession, SessionList, SessionView, session_list, session_view

# Generous outer bounds so nothing absurd reaches the rules; the rules give the precise answers.
_ID = Field(min_length=1, max_length=64)


class CustomerIn(BaseModel):
    name: str = Field(max_length=1000)
    email: str = Field(max_length=1000)
    company: str | None = Field(default=None, max_length=1000)
    phone: str | None = Field(default=None, max_length=1000)


class RequestInput(BaseModel):
    session_id: str = _ID
    customer: CustomerIn
    service_type: str = Field(max_length=200)
    description: str = Field(default="", max_length=20_000)
    consent_id: str | None = Field(default=None, max_length=64)
    scopes: list[str] = Field(default_factory=list, max_length=10)


class SessionIdInput(BaseModel):
    session_id: str = _ID


class QueueInput(BaseModel):
    pass


class ListInput(BaseModel):
    status: Status | None = None
    consultant: str | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class ClaimInput(BaseModel):
    session_id: str = _ID
    consultant: str = Field(max_length=1000)
    client_address: str | None = Field(default=None, max_length=100)  # for the audit trail


class AttachAgentInput(BaseModel):
    session_code: str = Field(max_length=64)
    # Chosen by the gateway, so that asking again after a lost reply is the same attach (see crud.attach_agent).
    resume_token: str | None = Field(default=None, min_length=32, max_length=128)


class ResumeAgentInput(BaseModel):
    session_id: str = _ID
    resume_token: str = Field(min_length=1, max_length=128)


class AttachedAgent(SessionView):
    """The session view, and the token with which the same agent may come back (given once, at attach)."""

    resume_token: str


class ActivateInput(BaseModel):
    session_id: str = _ID
    at: AwareDatetime


class AgentMarkInput(BaseModel):
    session_id: str = _ID
    at: AwareDatetime  # when the gateway saw it: reports arrive late and out of order, the time orders them


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
            "cmd.session.request": (RequestInput, self.request),
            "cmd.session.get": (SessionIdInput, self.get),
            "cmd.session.queue": (QueueInput, self.queue),
            "cmd.session.list": (ListInput, self.list),
            "cmd.session.claim": (ClaimInput, self.claim),
            "cmd.session.attach_agent": (AttachAgentInput, self.attach_agent),
            "cmd.session.resume_agent": (ResumeAgentInput, self.resume_agent),
            "cmd.session.activate": (ActivateInput, self.activate),
            "cmd.session.agent_away": (AgentMarkInput, self.agent_away),
            "cmd.session.agent_back": (AgentMarkInput, self.agent_back),
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
            status=Status(session.status),
            expires_at=session.request_expires_at,
            code_expires_at=session.code_expires_at,
        )

    async def get(self, request: SessionIdInput) -> SessionView:
        return session_view(await self._service.get(session_id=request.session_id))

    async def queue(self, _request: QueueInput) -> SessionList:
        return session_list(await self._service.queue())

    async def list(self, request: ListInput) -> SessionList:
        return session_list(await self._service.list_sessions(
            status=request.status, consultant=request.consultant, limit=request.limit
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
