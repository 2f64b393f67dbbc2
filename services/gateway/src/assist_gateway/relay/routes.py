"""The WebSocket doors of the relay (CONTRACT §3), one module a door: `/ws/v1/agent` (agent_door.py),
`/ws/v1/consultant/{session_id}` (consultant_door.py), a supervisor's `/ws/v1/observer/{session_id}` (watching, view
only, issue #16: observer_door.py) and the customer's browser showing its screen, `/ws/v1/share/{session_id}` (view
only, issue #18: share_door.py). What the staff doors share is in staff_doors.py, what every door's admission
shares in admission.py, and the serving loop every door ends in in serving.py; here `RelayHub` composes them on
`RelayCore` (hub.py) and registers the routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from ..ratelimit import FailureBudget
from .admission import Admission
from .agent_door import AgentDoor
from .consultant_door import ConsultantDoor
from .hub import RelayCore
from .observer_door import ObserverDoor
from .serving import RelayServing
from .share_door import ShareDoor
from .staff_doors import StaffDoors


# Each door admits in a helper of its own and only then serves: the session's view (dozens of objects) goes with the
# helper's frame instead of staying alive, per socket, for as long as the relay is open.
class RelayHub(AgentDoor, ConsultantDoor, ObserverDoor, ShareDoor, StaffDoors, Admission, RelayServing, RelayCore):
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
