"""The session service's commands (docs/commands.md): each registered through its spec in
`assist_contract.session` (subject, input model), with one thin handler."""

from __future__ import annotations

from datetime import UTC

from assist_contract import session as contract
from assist_contract.session import (
    ActivateInput,
    AgentMarkInput,
    AttachAgentInput,
    ClaimInput,
    ListInput,
    QueueInput,
    RequestInput,
    ResumeAgentInput,
    SessionIdInput,
)
from assist_platform.audit import audit_handler
from assist_platform.commands import refusals_as_problems
from assist_platform.envelope import utcnow
from assist_platform.retrying import on_conflict
from assist_platform.runtime import Command, ServiceRuntime

from . import domain, service
from .domain import CodeGone, InvalidInput, QueueFull, Status, TransitionRefused
from .settings import Settings
from .views import RequestedSession, SessionList, SessionView, session_list, session_view


class AttachedAgent(SessionView):
    """The session view, and the token with which the same agent may come back (given once, at attach)."""

    resume_token: str


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
        table = [
            (contract.request, self.request),
            (contract.get, self.get),
            (contract.queue, self.queue),
            (contract.list_sessions, self.list),
            (contract.claim, self.claim),
            (contract.attach_agent, self.attach_agent),
            (contract.resume_agent, self.resume_agent),
            (contract.activate, self.activate),
            (contract.agent_away, self.agent_away),
            (contract.agent_back, self.agent_back),
        ]
        commands = [spec.serve(_rules_as_problems(handler)) for spec, handler in table]
        return [*commands, contract.audit.serve(audit_handler(service="session", database=self._database))]

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
        self._runtime.notify_outbox()
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
                db=db, status=Status(request.status) if request.status else None, consultant=request.consultant,
                limit=request.limit,
            )
            return session_list(sessions)

    async def claim(self, request: ClaimInput) -> SessionView:
        consultant = domain.validate_consultant(request.consultant)
        async with self._database.transaction() as db:
            session = await service.claim_session(
                db=db, session_id=request.session_id, consultant=consultant, now=utcnow(),
                client_address=request.client_address,
            )
        self._runtime.notify_outbox()
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
        self._runtime.notify_outbox()
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
        self._runtime.notify_outbox()
        return session_view(session)
