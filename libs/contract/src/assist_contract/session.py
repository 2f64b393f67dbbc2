"""The session service's public face: the commands it answers (`cmd.session.*`) and the events it publishes
(stream SESSION). docs/commands.md and docs/events.md describe each. Results are the session view (the session
service's `views`), not typed here yet.
"""

from __future__ import annotations

from typing import Literal

from assist_platform.audit import AuditQuery
from pydantic import AwareDatetime, BaseModel, Field

from .spec import CommandSpec, EventSpec, JsonObject

STREAM = "SESSION"
COMMANDS = "cmd.session.>"
# Every event of the stream: the gateway's live pages follow them all.
EVENTS = "session.>"

Status = Literal["waiting", "assigned", "active", "ended"]

# Generous outer bounds so nothing absurd reaches the rules; the session's rules give the precise answers.
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
    # Chosen by the gateway, so that asking again after a lost reply is the same attach (the session's
    # service.attach_agent).
    resume_token: str | None = Field(default=None, min_length=32, max_length=128)


class ResumeAgentInput(BaseModel):
    session_id: str = _ID
    resume_token: str = Field(min_length=1, max_length=128)


class ActivateInput(BaseModel):
    session_id: str = _ID
    at: AwareDatetime


class AgentMarkInput(BaseModel):
    session_id: str = _ID
    at: AwareDatetime  # when the gateway saw it: reports arrive late and out of order, the time orders them


request: CommandSpec[RequestInput, JsonObject] = CommandSpec("cmd.session.request", RequestInput)
get: CommandSpec[SessionIdInput, JsonObject] = CommandSpec("cmd.session.get", SessionIdInput)
queue: CommandSpec[QueueInput, JsonObject] = CommandSpec("cmd.session.queue", QueueInput)
list_sessions: CommandSpec[ListInput, JsonObject] = CommandSpec("cmd.session.list", ListInput)
claim: CommandSpec[ClaimInput, JsonObject] = CommandSpec("cmd.session.claim", ClaimInput)
attach_agent: CommandSpec[AttachAgentInput, JsonObject] = CommandSpec("cmd.session.attach_agent", AttachAgentInput)
resume_agent: CommandSpec[ResumeAgentInput, JsonObject] = CommandSpec("cmd.session.resume_agent", ResumeAgentInput)
activate: CommandSpec[ActivateInput, JsonObject] = CommandSpec("cmd.session.activate", ActivateInput)
agent_away: CommandSpec[AgentMarkInput, JsonObject] = CommandSpec("cmd.session.agent_away", AgentMarkInput)
agent_back: CommandSpec[AgentMarkInput, JsonObject] = CommandSpec("cmd.session.agent_back", AgentMarkInput)

# Its entries of the audit chain about one session (the platform's audit_handler answers it).
audit: CommandSpec[AuditQuery, JsonObject] = CommandSpec("cmd.session.audit", AuditQuery)

class SessionLifecycle(BaseModel):
    """`session.requested`, `session.assigned`, `session.started`: who, what, and when it happened."""

    session_id: str
    service_type: str
    customer: dict | None = None
    consultant: str | None = None
    at: AwareDatetime


class AgentMark(BaseModel):
    """`session.agent_lost`, `session.agent_returned`: when the gateway saw the agent's socket drop or return."""

    session_id: str
    at: AwareDatetime


class AgentAway(BaseModel):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime | None = None  # null: the agent never came back before the end


class SessionEnded(BaseModel):
    """Billing closes the record from it alone: when the clock started and stopped, and every period the agent
    was away before the end (the pauses billing leaves out)."""

    session_id: str
    ended_at: AwareDatetime
    ended_by: str | None = None
    end_reason: str | None = None
    started_at: AwareDatetime | None = None  # null: the session never became active
    consultant: str | None = None
    service_type: str
    customer: dict | None = None
    requested_at: AwareDatetime | None = None
    # The periods the agent was away before the end (issue #13); absent from sessions of older versions.
    agent_away: list[AgentAway] = Field(default_factory=list, max_length=1000)
    paused_seconds: int | None = None


REQUESTED = EventSpec("session.requested", STREAM, SessionLifecycle)
ASSIGNED = EventSpec("session.assigned", STREAM, SessionLifecycle)
STARTED = EventSpec("session.started", STREAM, SessionLifecycle)
ENDED = EventSpec("session.ended", STREAM, SessionEnded)
# The agent's socket dropped while the session ran, and it came back (issue #13: the pause is not billed).
AGENT_LOST = EventSpec("session.agent_lost", STREAM, AgentMark)
AGENT_RETURNED = EventSpec("session.agent_returned", STREAM, AgentMark)
