"""What the relay tells the session service: the session became active (both sides are there), and the agent's
socket dropped or came back; an agent away past the grace period ends the session as agent_lost."""

from __future__ import annotations

import asyncio
import logging

from assist_contract import session as session_service
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from assist_platform.retrying import retrying, stop_when, unavailable

from . import bridge
from .session import SessionRelay

log = logging.getLogger(__name__)

# An agent away/back report is retried this often (about a minute at 2 s) while messaging is away.
_REPORT_ATTEMPTS = 35
_AGENT_REPORTS = {"away": session_service.agent_away, "back": session_service.agent_back}


class SessionPresence:
    """The session-service side of `RelayCore` (hub.py): activation, agent away/back reports, the grace period."""

    def _activate_soon(self, relay: SessionRelay) -> None:
        """Both sides are there: the billing clock starts now. Retried until the session service has it."""
        if relay.activated:
            return
        relay.activated = True
        at = rfc3339(utcnow())
        self._tasks.append(asyncio.create_task(self._activate(relay, at), name=f"activate-{relay.session_id}"))

    async def _activate(self, relay: SessionRelay, at: str) -> None:
        def gone() -> bool:
            return self.sessions.get(relay.session_id) is not relay or relay.session_id in self.ended

        policy = retrying(what=f"activating session {relay.session_id}", retry_on=unavailable, stop=stop_when(gone),
                          level=logging.INFO)
        try:
            async for attempt in policy:
                with attempt:
                    if gone():
                        return
                    await session_service.activate(self.nc(), {"session_id": relay.session_id, "at": at},
                                                   timeout=self.settings.command_timeout_seconds)
                    relay.started = True
        except Problem as problem:
            if problem.status != 503:
                log.warning("session %s not activated: %s", relay.session_id, problem.detail or problem.title)
        finally:
            relay.settled.set()
            relay.nudge()

    def _start_grace(self, session_id: str) -> None:
        self._report_agent(session_id, "away")
        if session_id not in self._graces and self.end_session_agent_lost is not None:
            self._graces[session_id] = asyncio.create_task(self._grace(session_id), name=f"agent-grace-{session_id}")

    def _report_agent(self, session_id: str, kind: str) -> None:
        """Tell the session service when the agent's socket dropped or came back: the time away is not billed
        (docs/finance.md). Stamped now, sent in the background; idempotent, so retried while messaging is away."""
        at = rfc3339(utcnow())
        task = asyncio.create_task(self._send_agent_report(session_id, kind, at), name=f"agent-{kind}-{session_id}")
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _send_agent_report(self, session_id: str, kind: str, at: str) -> None:
        policy = retrying(what=f"recording agent {kind} of session {session_id}", retry_on=unavailable,
                          attempts=_REPORT_ATTEMPTS, level=logging.INFO)
        try:
            async for attempt in policy:
                with attempt:
                    await _AGENT_REPORTS[kind](self.nc(), {"session_id": session_id, "at": at},
                                               timeout=self.settings.command_timeout_seconds)
        except Problem as problem:
            why = "messaging stayed away" if problem.status == 503 else problem.detail
            log.warning("agent %s of session %s not recorded: %s", kind, session_id, why)

    def _cancel_grace(self, session_id: str) -> None:
        task = self._graces.pop(session_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _grace(self, session_id: str) -> None:
        """The agent's socket dropped: it may come back (here or on another replica) within the grace period."""
        subscription = None
        nc = self.runtime.nc
        try:
            if nc is not None and nc.is_connected:
                async def back_elsewhere(msg) -> None:
                    if msg.data == b"up":
                        self._cancel_grace(session_id)

                subscription = await nc.subscribe(bridge.subject(session_id, "home"), cb=back_elsewhere)
            await asyncio.sleep(self.settings.agent_grace_seconds)
            self._graces.pop(session_id, None)
            if session_id not in self.ended and self.end_session_agent_lost is not None:
                log.info("the agent of session %s stayed away; ending it as agent_lost", session_id)
                await self.end_session_agent_lost(session_id)
        except Problem as problem:
            log.warning("session %s not ended after its agent was lost: %s", session_id, problem.detail)
        finally:
            if subscription is not None:
                try:
                    await subscription.unsubscribe()
                except Exception:
                    pass  # gone with the connection
