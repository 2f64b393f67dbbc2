"""How a relay door says no: a refusal's close code and reason, the running session a door admits to, and a door
whose handler failed closed with a code instead of dropped."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from assist_contract import session as session_service
from assist_contract.session import SessionView
from assist_platform.problems import Problem
from fastapi import WebSocket
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from . import closecodes

log = logging.getLogger(__name__)

_PROBLEM_TO_CLOSE = {
    401: closecodes.NOT_AUTHENTICATED,
    403: closecodes.NOT_PERMITTED,
    404: closecodes.NOT_PERMITTED,
    409: closecodes.NOT_PERMITTED,
    410: closecodes.SESSION_ENDED,
    503: closecodes.TRY_AGAIN_LATER,
}


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def refusal(problem: Problem) -> Refused:
    return Refused(_PROBLEM_TO_CLOSE.get(problem.status, closecodes.NOT_PERMITTED), problem.detail or problem.title)


class Admission:
    """What the doors ask of a session before they admit anyone to it."""

    async def _running_session(self, session_id: str) -> SessionView:
        """The session's view; refused once it has ended (known here, or said by the session service)."""
        if session_id in self.ended:
            raise Refused(closecodes.SESSION_ENDED, self.ended[session_id])
        try:
            view = await session_service.get(self.nc(), {"session_id": session_id},
                                             timeout=self.settings.command_timeout_seconds)
        except Problem as problem:
            raise refusal(problem) from problem
        if view.status == "ended":
            raise Refused(closecodes.SESSION_ENDED, closecodes.ended_reason(view.end_reason, view.ended_by))
        return view


@asynccontextmanager
async def closing_on_failure(websocket: WebSocket):
    """A refusal closes with its code, the database being away with 1013, anything else with 1011 and a log line.
    A handler that raised would have its connection dropped by uvicorn without a close frame, which a client
    cannot tell from a network failure."""
    try:
        yield
    except Refused as refused:
        await close_socket(websocket, refused.code, refused.reason)
    except Exception as error:
        if _database_unavailable(error):
            # The gateway's database is away (a restart): nobody is relayed without an audit record; try later.
            log.warning("relay socket %s refused: the database is unavailable", websocket.url.path)
            await close_socket(websocket, closecodes.TRY_AGAIN_LATER,
                               "the gateway cannot record connections right now")
        else:
            log.exception("relay socket %s failed", websocket.url.path)
            await close_socket(websocket, closecodes.INTERNAL_ERROR, "internal error")


def _database_unavailable(error: Exception) -> bool:
    return isinstance(error, (OperationalError, InterfaceError)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason[:120])
    except Exception:
        pass
