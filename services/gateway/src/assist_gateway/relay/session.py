"""One session's relay on this replica: its endpoints, its remote side, and where a frame goes now."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from . import bridge
from .endpoint import Endpoint


def consultant_joined(who: str) -> str:
    """What the agent hears when its consultant connects, on this replica or another: it names them."""
    return json.dumps({"type": "peer_joined", "peer": "consultant", "consultant": who})


@dataclass(eq=False)
class SessionRelay:
    session_id: str
    agent: Endpoint | None = None
    consultant: Endpoint | None = None
    remote_consultant: str | None = None  # (home) the replica of a consultant that joined over NATS
    remote_who: str = ""  # (home) and their username
    remote_home: bool = False  # (consultant side) joined to a home on another replica
    # (consultant side) Looks for the home until it answers a join: the bridge is core NATS, so a join, its reply or
    # the home's `up` can be lost with a NATS node, and nobody else would ask again.
    joiner: asyncio.Task | None = None
    home_up: asyncio.Event = field(default_factory=asyncio.Event)
    # Per endpoint, not per role: a replaced endpoint's leaving must not take its successor's subscriptions along.
    subscriptions: dict[Endpoint, list] = field(default_factory=dict)
    activated: bool = False  # (home) asked the session service to make the session active
    # (home) No frame passes before the session service has the session `active`: bytes that crossed must be billed,
    # even when the session is ended while NATS is away and the activation still on its way (CONTRACT §4).
    started: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # started, or it never will be on this relay
    # Observers (observers.py): those on this replica, and (home) those on others, by (replica, observation id),
    # with their username and until when they count without a new heartbeat; and the names the agent was told.
    observers: set[Endpoint] = field(default_factory=set)
    remote_observers: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    observers_told: list[str] | None = field(default_factory=list)  # None: tell them even that nobody watches
    # The customer's browser showing its screen (share.py, #18): the share on this replica, and (share side) joined
    # to a consultant on another replica; (consultant side) the replica of a remote share this consultant sees.
    share: Endpoint | None = None
    share_console_remote: bool = False
    remote_share: str | None = None
    share_joiner: asyncio.Task | None = None  # (share side) looks for the consultant on other replicas

    def empty(self) -> bool:
        return self.agent is None and self.consultant is None and not self.observers and self.share is None

    def nudge(self) -> None:
        """Pairing or activation changed: a held frame of any side looks again whether it may pass."""
        for endpoint in (self.agent, self.consultant, self.share):
            if endpoint is not None:
                endpoint.nudge()


def route(relay: SessionRelay, source: Endpoint) -> Endpoint | str | None:
    """Where a frame of `source` goes now: its peer on this replica, a bridge channel (the peer is on another
    replica), or None: nowhere yet. The home (the agent's replica) lets nothing pass before the session is active;
    a consultant joined to a remote home is held there."""
    if source.role == "agent":
        if relay.consultant is not None:
            return relay.consultant if relay.started else None
        return "to_consultant" if relay.remote_consultant is not None and relay.started else None
    if source.role == "share":  # to the consultant only, never to the agent (share.py)
        if relay.consultant is not None:
            return relay.consultant if relay.started else None
        return bridge.TO_CONSOLE_SHARE_FRAME if relay.share_console_remote and relay.started else None
    if relay.agent is not None:
        return relay.agent if relay.started else None
    return bridge.TO_HOME_FRAME if relay.remote_home else None


def peer_there(relay: SessionRelay, source: Endpoint) -> bool:
    if source.role == "share":
        return relay.consultant is not None or relay.share_console_remote
    if source.role == "agent":
        return relay.consultant is not None or relay.remote_consultant is not None
    return relay.agent is not None or relay.remote_home
