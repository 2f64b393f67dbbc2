"""The consent rules a caller meets at the door, as pure functions: which scopes, languages and revocation reasons
there are. They are part of the public contract (a 422 names them), so they live here, once; the consent
service's `domain` uses the same functions. Standard library (and the platform's endings) only.
"""

from __future__ import annotations

from collections.abc import Iterable

from assist_platform.endings import REASONS as REVOKE_REASONS

# `view` sees the screen and the terminal; `control` drives them; `files` sends and takes files, each approved by the
# customer; `clipboard` sends and takes clipboard text, each transfer shown to the customer (#17). Every scope but
# `view` stands on `view`: without it there is no access at all.
SCOPES = ("view", "control", "files", "clipboard")
# An observer: a supervisor watching, view only (#16); a share: the customer's browser showing its screen (#18).
ENDPOINTS = ("agent", "consultant", "observer", "share")
LANGUAGES = ("bg", "en")
DEFAULT_LANGUAGE = "bg"


def normalize_scopes(scopes: Iterable[str]) -> list[str]:
    """A non-empty subset of SCOPES, without repeats, in canonical order; ValueError otherwise."""
    requested = list(scopes)
    unknown = sorted({scope for scope in requested if scope not in SCOPES})
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; allowed: {list(SCOPES)}")
    if not requested:
        raise ValueError(f"at least one scope is required; allowed: {list(SCOPES)}")
    return [scope for scope in SCOPES if scope in requested]


def scopes_after_withdrawal(scopes: Iterable[str], scope: str) -> list[str]:
    """What the consent still allows once `scope` is withdrawn, in canonical order. Withdrawing `view` withdraws
    everything: the other scopes stand on `view` (driving or sending files to a computer one cannot see), so no
    access is left."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; allowed: {list(SCOPES)}")
    if scope == "view":
        return []
    return [held for held in SCOPES if held in set(scopes) and held != scope]


def gives_access(scopes: Iterable[str]) -> bool:
    """Whether a session with these scopes still lets anyone see the customer's computer (else it ends)."""
    return "view" in set(scopes)


def validate_reason(reason: str) -> str:
    if reason not in REVOKE_REASONS:
        raise ValueError(f"unknown revocation reason {reason!r}; allowed: {list(REVOKE_REASONS)}")
    return reason


def validate_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; allowed: {list(LANGUAGES)}")
    return lang
