"""Relaying between replicas over core NATS, when the agent and the consultant reached different gateways.

The replica holding the agent's socket is the session's *home*. Per session:
- `relay.<sid>.to_home.frame` / `relay.<sid>.to_consultant`: binary frames, one NATS message each, after a first
  byte 0x01 (the kind). Only binary frames cross: a peer's text frame is never forwarded (CONTRACT §3), so a replica
  drops any other kind (0x02 was text, before that rule) instead of delivering it;
- `relay.<sid>.to_home.join` (request, answered by the home) and `relay.<sid>.to_home.leave`: a remote consultant
  comes and goes;
- `relay.<sid>.home`: the home announces `up` / `down` as the agent connects and leaves;
- `relay.<sid>.to_home.observer` and `relay.<sid>.to_observers`: observers on other replicas (observers.py);
- `relay.<sid>.to_console.*` and `relay.<sid>.console`: the customer's browser share on another replica than its
  consultant (share.py): `share_join` (request), `share_frame`, `share_leave` to the consultant's replica, which
  announces `up` / `down` on `console` as the consultant connects and leaves.

What the home receives shares one prefix, so it takes one subscription (`relay.<sid>.to_home.*`) per agent instead
of three: each nats-py subscription costs a queue and a task, about 5 KiB, and idle relays are mostly that.
"""

from __future__ import annotations

from assist_contract.gateway import relay_subject

BINARY = b"\x01"
# A text frame of the gateway's own (the home's `observers` message) for a consultant on another replica: only on
# `to_consultant`, never toward the agent, and never a peer's text (those are never forwarded at all).
NOTICE = b"\x03"


TO_HOME_FRAME, TO_HOME_JOIN, TO_HOME_LEAVE = "to_home.frame", "to_home.join", "to_home.leave"
# An observer on another replica announces itself to the home (observers.py); the home copies the agent's frames
# for it on `to_observers`.
TO_HOME_OBSERVER, TO_OBSERVERS = "to_home.observer", "to_observers"
TO_HOME_ANY = "to_home.*"
# A share on another replica than the consultant (share.py): what the consultant's replica receives shares one prefix
# (one subscription per consultant socket), and it announces its consultant on `console`.
TO_CONSOLE_SHARE_JOIN, TO_CONSOLE_SHARE_FRAME = "to_console.share_join", "to_console.share_frame"
TO_CONSOLE_SHARE_LEAVE, TO_CONSOLE_ANY, CONSOLE = "to_console.share_leave", "to_console.*", "console"


def subject(session_id: str, channel: str) -> str:
    return relay_subject(session_id, channel)


def channel(subject_name: str) -> str:
    """The channel of a `relay.<sid>.<channel>` subject (session ids hold no dots), e.g. `TO_HOME_FRAME`."""
    return subject_name.split(".", 2)[2]


def pack(data: bytes) -> bytes:
    """A binary frame as a bridge payload."""
    return BINARY + data


def pack_notice(text: str) -> bytes:
    return NOTICE + text.encode()


def unpack_notice(payload: bytes) -> str | None:
    """The gateway's text of a notice payload, or None for anything else."""
    if payload[:1] == NOTICE:
        return payload[1:].decode(errors="replace")
    return None


def unpack(payload: bytes) -> bytes | None:
    """The binary frame of a bridge payload, or None for anything else (never delivered)."""
    if payload[:1] == BINARY:
        return payload[1:]
    return None
