"""What the staff doors (consultant, observer) share: the login that opens one, and closing what a login opened
once it has ended."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from assist_platform.retrying import every
from fastapi import WebSocket
from sqlalchemy.exc import InterfaceError, OperationalError

from ..edge import origin_allowed
from ..identity import TOKEN_COOKIE
from . import closecodes
from .admission import Refused

log = logging.getLogger(__name__)


def staff_token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return websocket.cookies.get(TOKEN_COOKIE)


class StaffDoors:
    """The staff member at a door (`_staff_at_door`), and the login watch that closes their sockets."""

    async def _staff_at_door(self, websocket: WebSocket, door: str) -> tuple[Any, str]:
        """The staff member opening a staff door, and their token; refused without a login, and from a page of
        another origin.

        A browser sends the SameSite cookie with a socket any page of the same site opens (another port, another
        subdomain): the cookie alone is no proof that the gateway's own page opened it, its Origin is. A program
        sends the token in a header that no page can make a browser send, so it needs no Origin."""
        bearer = websocket.headers.get("authorization", "").lower().startswith("bearer ")
        if not bearer and TOKEN_COOKIE in websocket.cookies and not origin_allowed(
                websocket, self.settings.public_origin_list):
            raise Refused(closecodes.NOT_PERMITTED, f"this page's origin may not open the {door} socket")
        token = staff_token(websocket)
        identity = await self._authenticate_staff(token) if token else None
        if identity is None:
            raise Refused(closecodes.NOT_AUTHENTICATED, "log in first")
        return identity, token

    # --- logins that end ------------------------------------------------------------------------------------
    async def on_connected(self, runtime) -> None:
        await super().on_connected(runtime)
        self._tasks.append(asyncio.create_task(self._watch_logins(), name="relay-login-watch"))

    def close_signed_out(self, digests: set[str]) -> None:
        """Close (4401) every consultant socket on this replica that one of these logins opened: a logout here
        closes its sockets at once; the other replicas' watch closes theirs (`_watch_logins`)."""
        for endpoint in self.leases.endpoints:
            if endpoint.credential and endpoint.credential in digests:
                log.info("the login of %s that opened session %s ended: closing their socket", endpoint.who,
                         endpoint.session_id)
                endpoint.cut_now(code=closecodes.NOT_AUTHENTICATED, reason=closecodes.LOGIN_ENDED)

    async def _check_logins(self) -> None:
        opened_by = {endpoint.credential for endpoint in self.leases.endpoints if endpoint.credential}
        if opened_by:
            self.close_signed_out(opened_by - await self._still_signed_in(opened_by))

    async def _watch_logins(self) -> None:
        """Every STAFF_RECHECK_SECONDS: a consultant who logged out on another replica, or whose login expired or
        whose account is gone, keeps no socket open here."""
        await every(lambda: self.settings.staff_recheck_seconds, self._check_logins, what="login watch",
                    expected=(OperationalError, InterfaceError))
