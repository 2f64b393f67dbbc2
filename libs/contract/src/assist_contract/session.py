"""The session service's public face: the commands it answers (`cmd.session.*`) and the events it publishes
(stream SESSION). docs/commands.md and docs/events.md describe each. The commands answer the session view
(`SessionView`), which the session service builds (its `views`) and the gateway reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from assist_platform.audit import AuditQuery, AuditTrail
from pydantic import AwareDatetime, BaseModel, Field

from .consent import ScopeRequestView
from .spec import CommandSpec, EventSpec

STREAM = "SESSION"
COMMANDS = "cmd.session.>"
# Every event of the stream: the gateway's live pages follow them all.
EVENTS = "session.>"

Status = Literal["waiting", "assigned", "active", "ended"]
# What the customer page shows of the agent (issue #13): not attached yet, connected, or away (it may come back
# within the gateway's grace period).
AgentPresence = Literal["not_started", "connected", "away"]

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


class SessionView(BaseModel):
    """A session as the commands answer it (docs/commands.md, "Session view")."""

    session_id: str
    status: Status
    service_type: str
    description: str
    customer: dict
    consultant: str | None
    scopes: list[str]
    consent_id: str | None
    requested_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    # When the request ends by itself if nobody starts it; None once it started or ended.
    expires_at: datetime | None
    # The agent: whether it attached, is connected or away since when, and the seconds it was away while the
    # session was active (not billed).
    agent: AgentPresence
    agent_away_since: datetime | None
    paused_seconds: int
    # The latest step-up request a consultant made (consent.scope_requested), and its answer once given.
    scope_request: ScopeRequestView | None = None
    # Who watches the session now, view only (supervisors' usernames, from the gateway's observer events).
    observers: list[str] = Field(default_factory=list)
    # The seq of the session's latest chat message (0: none yet): a page fetches the chat only when it grew.
    chat_seq: int = 0


class SessionList(BaseModel):
    sessions: list[SessionView]


class RequestedSession(BaseModel):
    """A new request: the code the customer gives their agent and the token of their page (given once)."""

    session_id: str
    session_code: str
    customer_token: str
    status: Status
    expires_at: datetime
    code_expires_at: datetime


class AttachedAgent(SessionView):
    """The session view, and the token with which the same agent may come back (given once, at attach)."""

    resume_token: str


request = CommandSpec("cmd.session.request", RequestInput, RequestedSession)
get = CommandSpec("cmd.session.get", SessionIdInput, SessionView)
queue = CommandSpec("cmd.session.queue", QueueInput, SessionList)
list_sessions = CommandSpec("cmd.session.list", ListInput, SessionList)
claim = CommandSpec("cmd.session.claim", ClaimInput, SessionView)
attach_agent = CommandSpec("cmd.session.attach_agent", AttachAgentInput, AttachedAgent)
resume_agent = CommandSpec("cmd.session.resume_agent", ResumeAgentInput, SessionView)
activate = CommandSpec("cmd.session.activate", ActivateInput, SessionView)
agent_away = CommandSpec("cmd.session.agent_away", AgentMarkInput, SessionView)
agent_back = CommandSpec("cmd.session.agent_back", AgentMarkInput, SessionView)

ChatRole = Literal["customer", "consultant"]


class ChatPostInput(BaseModel):
    """A chat message of the session's customer or its consultant (issue #17); the gateway decides who may post."""

    session_id: str = _ID
    role: ChatRole
    author: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=2000)


class ChatListInput(BaseModel):
    session_id: str = _ID
    after: int = Field(default=0, ge=0)  # messages with a greater seq


class ChatMessage(BaseModel):
    session_id: str
    seq: int  # 1, 2, ... per session: the order everyone shows them in
    role: ChatRole
    author: str
    text: str
    posted_at: AwareDatetime


class ChatMessages(BaseModel):
    messages: list[ChatMessage]


chat_post = CommandSpec("cmd.session.chat.post", ChatPostInput, ChatMessage)
chat_list = CommandSpec("cmd.session.chat.list", ChatListInput, ChatMessages)

# Its entries of the audit chain about one session (the platform's audit_handler answers it).
audit = CommandSpec("cmd.session.audit", AuditQuery, AuditTrail)


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
# A chat message (issue #17): every gateway replica tells the session's agent, consultant and observers.
CHAT_POSTED = EventSpec("session.chat_posted", STREAM, ChatMessage)
