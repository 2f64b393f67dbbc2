"""The session service's commands (docs/commands.md): one input model and one thin handler each."""

from __future__ import annotations

from datetime import UTC

from assist_platform.audit import audit_command
from assist_platform.commands import refusals_as_problems
from assist_platform.envelope import utcnow
from assist_platform.retrying import on_conflict
from assist_platform.runtime import Command, ServiceRuntime
from pydantic import AwareDatetime, BaseModel, Field

from . import domain, service
from .domain import CodeGone, InvalidInput, QueueFull, Status, TransitionRefused
from .settings import Settings
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
    # Chosen by the gateway, so that asking again after a lost reply is the same attach (see service.attach_agent).
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
    """The handlers, bound to one runtime: they open the transaction and wake the outbox after commit."""

    def __init__(self, runtime: ServiceRuntime, settings: Settings) -> None:
        self._runtime = runtime
        self._settings = settings
        self._database = runtime.database

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
        commands = [Command(subject, model, _rules_as_problems(handler)) for subject, (model, handler) in table.items()]
        return [*commands, audit_command(service="session", database=self._database)]

    async def request(self, request: RequestInput) -> RequestedSession:
        customer = domain.validate_customer(**request.customer.model_dump())
        fields = dict(
            session_id=request.session_id,
            customer=customer,
            service_type=domain.validate_service_type(request.service_type, allowed=self._settings.service_types),
            description=domain.validate_description(request.description),
            consent_id=request.consent_id,
            scopes=domain.validate_scopes(request.scopes),
            code_ttl_seconds=self._settings.session_code_ttl_seconds,
            request_ttl_seconds=self._settings.session_request_ttl_seconds,
            max_waiting=self._settings.session_max_waiting_requests,
        )
        # Two requests may draw the same free code at once; the unique index refuses one, which draws again.
        async for attempt in on_conflict(attempts=3):
            with attempt:
                async with self._database.transaction() as db:
                    session, token = await service.request_session(db=db, now=utcnow(), **fields)
        return RequestedSession(
            session_id=session.session_id,
            session_code=session.session_code,
            customer_token=token,
            status=Status(session.status),
            expires_at=session.request_expires_at,
            code_expires_at=session.code_expires_at,
        )

    async def get(self, request: SessionIdInput) -> SessionView:
        async with self._database.session() as db:
            return session_view(await service.load_session(db=db, session_id=request.session_id))

    async def queue(self, _request: QueueInput) -> SessionList:
        async with self._database.session() as db:
            return session_list(await service.queue(db=db))

    async def list(self, request: ListInput) -> SessionList:
        async with self._database.session() as db:
            sessions = await service.list_sessions(
                db=db, status=request.status, consultant=request.consultant, limit=request.limit
            )
            return session_list(sessions)

    async def claim(self, request: ClaimInput) -> SessionView:
        consultant = domain.validate_consultant(request.consultant)
        async with self._database.transaction() as db:
            session = await service.claim_session(
                db=db, session_id=request.session_id, consultant=consultant, now=utcnow(),
                client_address=request.client_address,
            )
        return session_view(session)

    async def attach_agent(self, request: AttachAgentInput) -> AttachedAgent:
        async with self._database.transaction() as db:
            session, resume_token = await service.attach_agent(
                db=db, session_code=request.session_code.strip(), now=utcnow(), resume_token=request.resume_token
            )
        return AttachedAgent(**session_view(session).model_dump(), resume_token=resume_token)

    async def resume_agent(self, request: ResumeAgentInput) -> SessionView:
        async with self._database.session() as db:
            session = await service.resume_agent(
                db=db, session_id=request.session_id, resume_token=request.resume_token
            )
        return session_view(session)

    async def activate(self, request: ActivateInput) -> SessionView:
        async with self._database.transaction() as db:
            session = await service.activate_session(
                db=db, session_id=request.session_id, at=request.at.astimezone(UTC)
            )
        return session_view(session)

    async def agent_away(self, request: AgentMarkInput) -> SessionView:
        return await self._agent_mark(request, kind=domain.AGENT_AWAY)

    async def agent_back(self, request: AgentMarkInput) -> SessionView:
        return await self._agent_mark(request, kind=domain.AGENT_BACK)

    async def _agent_mark(self, request: AgentMarkInput, *, kind: str) -> SessionView:
        async with self._database.transaction() as db:
            session = await service.record_agent_mark(
                db=db, session_id=request.session_id, kind=kind, at=request.at.astimezone(UTC)
            )
        return session_view(session)
