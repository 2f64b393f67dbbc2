"""The gateway's public face: the events it publishes (stream GATEWAY), the cut requests each replica answers,
and the subjects its replicas relay a session over between themselves.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from .consent import ScopeRequestView
from .spec import EventSpec

STREAM = "GATEWAY"


class TerminateRequested(BaseModel):
    """A terminate or end the gateway answered while the consent service could not be reached: kept in the
    gateway's outbox until NATS is back; the consent service consumes it and revokes."""

    session_id: str
    ended_by: str
    reason: str
    requested_at: AwareDatetime


TERMINATE_REQUESTED = EventSpec("gateway.terminate_requested", STREAM, TerminateRequested)


class ObserverJoined(BaseModel):
    """A supervisor began watching a running session, view only (#16): the customer is shown who, from then on.
    `observation_id` names this one watch (one socket): a supervisor with two windows watches twice."""

    session_id: str
    observation_id: str
    observer: str
    joined_at: AwareDatetime


class ObserverLeft(BaseModel):
    session_id: str
    observation_id: str
    observer: str
    left_at: AwareDatetime


OBSERVER_JOINED = EventSpec("gateway.observer_joined", STREAM, ObserverJoined)
OBSERVER_LEFT = EventSpec("gateway.observer_left", STREAM, ObserverLeft)
# The gateway's events, as its stream stores them (not `gateway.>`: the cut requests are never stored).
EVENT_SUBJECTS = (TERMINATE_REQUESTED.subject, OBSERVER_JOINED.subject, OBSERVER_LEFT.subject)

# A replica answers the consent service's cut requests on a subject of its own: the lease's holder.
CUT_ANY = "gateway.cut.*"


class CutRequest(BaseModel):
    """Cut these leases of the session now (the consent service revoked); answered once they are cut. With `scopes`,
    narrow them instead (a scope was withdrawn): from the answer on, only frames those scopes allow pass. With
    `scope_request`, tell the endpoints of a step-up request or its answer."""

    session_id: str
    lease_ids: list[str] | None = None  # none: every endpoint of the session on that replica
    reason: str | None = None  # the revocation's reason, for the close reason the endpoints are told
    scopes: list[str] | None = None  # the scopes left; absent: cut the endpoints
    # A step-up asked or answered: the endpoints are told; an approved one widens them to `scopes` (the consent
    # service's whole set in force, which it alone decides) instead of narrowing.
    scope_request: ScopeRequestView | None = None


class CutReply(BaseModel):
    cut: list[str]  # the lease ids the replica has cut (or narrowed)


def cut_subject(replica_id: str) -> str:
    return f"gateway.cut.{replica_id}"


# Relaying between replicas over core NATS (the gateway's relay/bridge.py): `relay.<session id>.<channel>`.
RELAY_ANY = "relay.>"


def relay_subject(session_id: str, channel: str) -> str:
    return f"relay.{session_id}.{channel}"


# Session recordings (issue #19): a JetStream object store per retention class, `RECORDINGS_<CLASS>` (stream
# `OBJ_RECORDINGS_<CLASS>`), written and read by the gateway alone (its recording/store.py). An object's chunks and
# metadata are published on `$O.<bucket>.>`; reading one runs an ordered consumer that answers the server's flow
# control on `$JS.FC.<stream>.>`; making and finding a bucket is the JetStream API. A NATS wildcard is a whole
# token, so each class's bucket is named in the permissions: a new class is added here.
RECORDING_CLASSES = ("standard",)


def recording_bucket(retention_class: str) -> str:
    """The object store bucket of a retention class: `standard` → `RECORDINGS_STANDARD`."""
    return f"RECORDINGS_{retention_class.upper()}"


RECORDING_SUBJECTS = tuple(
    subject for retention_class in RECORDING_CLASSES
    for subject in (f"$O.{recording_bucket(retention_class)}.>", f"$JS.FC.OBJ_{recording_bucket(retention_class)}.>")
)
