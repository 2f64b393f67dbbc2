"""What the consultant may do, decided here from the consent's scopes, whatever the gateway forwards."""

from __future__ import annotations

from . import framing

VIEW, CONTROL, FILES, CLIPBOARD = "view", "control", "files", "clipboard"
KNOWN = (VIEW, CONTROL, FILES, CLIPBOARD)
# The scope each channel's frames need, either way (the terminal's and input's only from the console, below).
_CHANNEL_SCOPES = {framing.CLIPBOARD: CLIPBOARD, framing.FILES: FILES}


def normalise(scopes) -> frozenset[str]:
    """The scopes of the `attached` message; anything unknown is ignored, nothing is assumed."""
    if not isinstance(scopes, (list, tuple, set, frozenset)):
        return frozenset()
    return frozenset(scope for scope in scopes if scope in KNOWN)


def narrowed(scopes: frozenset[str], told) -> frozenset[str]:
    """The scopes left after the gateway's `scopes` message: those of `scopes` it still names, never more."""
    return scopes & normalise(told)


def may_see(scopes: frozenset[str]) -> bool:
    # `control` without `view` would be blind typing; the consent form only offers control on top of view.
    return VIEW in scopes or CONTROL in scopes


def may_act(scopes: frozenset[str]) -> bool:
    return CONTROL in scopes


def allows(scopes: frozenset[str], scope: str) -> bool:
    """Whether the consent includes `scope`; every scope stands on `view` (without it there is no access)."""
    return scope in scopes and VIEW in scopes


def channels_offered(scopes: frozenset[str]) -> list[str]:
    """The channels named in the agent's hello: what this consent lets the consultant use."""
    offered = []
    if may_see(scopes):
        offered += ["terminal", "screen"]
    if may_act(scopes):
        offered.append("input")
    offered += [framing.CHANNEL_NAMES[channel] for channel, scope in _CHANNEL_SCOPES.items() if allows(scopes, scope)]
    return offered


def refusal(channel: int, scopes: frozenset[str]) -> str | None:
    """Why a frame from the console must be dropped, or None when it may pass."""
    if channel == framing.CONTROL:
        return None
    if channel in (framing.TERMINAL, framing.INPUT) and not may_act(scopes):
        return "the customer's consent allows viewing only"
    if channel == framing.SCREEN:
        return "the screen channel is one-way (agent to console)"
    if channel in _CHANNEL_SCOPES and not allows(scopes, _CHANNEL_SCOPES[channel]):
        return f"the customer's consent does not include {_CHANNEL_SCOPES[channel]}"
    if channel not in framing.CHANNEL_NAMES:
        return f"unknown channel {channel}"
    return None
