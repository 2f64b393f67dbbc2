"""`assist user add`: staff accounts live in the gateway's database; the gateway's own code validates them."""

from __future__ import annotations

import logging
import sys

from . import services


def add_user_command(*, role: str, username: str, password: str) -> int:
    """0 on success; on any failure one readable line on stderr and status 2, never a traceback."""
    try:
        if not services.is_installed(services.GATEWAY):
            raise RuntimeError("the gateway service is not installed")
        from assist_gateway.staff import add_user

        settings = services.settings_for(services.GATEWAY)
        # add_user migrates first (idempotent): an operator may add accounts before the first `make run`.
        logging.disable(logging.INFO)
        add_user(settings, role=role, username=username, password=password)
    except Exception as error:  # noqa: BLE001 - the whole point is one line instead of a traceback
        print(f"assist user add: {_readable(error)}", file=sys.stderr)
        return 2
    print(f"added {role} {username!r}; log in with POST /api/v1/auth/token", flush=True)
    return 0


def _readable(error: Exception) -> str:
    from assist_platform.problems import Problem

    from pydantic import ValidationError

    if isinstance(error, Problem):
        return error.detail or error.title
    if isinstance(error, ValidationError):  # settings read from the environment
        return "; ".join(str(e.get("msg", "")) for e in error.errors()) or "invalid settings"
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
