"""The session service's operations (the application layer): each owns its unit of work. It checks the input
against the rules (`domain`), opens the transaction (or the read-only session), changes rows through `crud`, and
returns once committed; the events it staged wake the outbox by that commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assist_platform.db import Database
from assist_platform.envelope import utcnow
from assist_platform.retrying import on_conflict
from assist_platform.runtime import ServiceRuntime

from . import crud, domain
from .domain import Status
from .models import HelpSession
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SessionService:
    database: Database
    settings: Settings

    @classmethod
    def for_runtime(cls, runtime: ServiceRuntime) -> SessionService:
        return cls(database=runtime.database, settings=runtime.settings)

    async def request(
        self, *, session_id: str, customer: dict[str, Any], service_type: str, description: str,
        consent_id: str | None, scopes: list[str],
    ) -> tuple[HelpSession, str]:
        """Open a waiting session; returns it with the customer token (given once, never stored)."""
        customer_ = domain.validate_customer(**customer)
        service_type = domain.validate_service_type(service_type, allowed=self.settings.service_types)
        description = domain.validate_description(description)
        scopes = domain.validate_scopes(scopes)
        # Two requests may draw the same free code at once; the unique index refuses one, which draws again.
        async for attempt in on_conflict(attempts=3):
            with attempt:
                async with self.database.transaction() as db:
                    session, token = await crud.request_session(
                        db=db, now=utcnow(), session_id=session_id, customer=customer_, service_type=service_type,
                        description=description, consent_id=consent_id, scopes=scopes,
                        code_ttl_seconds=self.settings.session_code_ttl_seconds,
                        request_ttl_seconds=self.settings.session_request_ttl_seconds,
                        max_waiting=self.settings.session_max_waiting_requests,
                    )
        return session, token

    async def get(self, *, session_id: str) -> HelpSession:
        async with self.database.session() as db:
            return await crud.load_session(db=db, session_id=session_id)

    async def queue(self) -> list[HelpSession]:
        async with self.database.session() as db:
            return await crud.queue(db=db)

    async def list_sessions(
        self, *, status: Status | None, consultant: str | None, limit: int
    ) -> list[HelpSession]:
        async with self.database.session() as db:
            return await crud.list_sessions(db=db, status=status, consultant=consultant, limit=limit)

    async def claim(self, *, session_id: str, consultant: str, client_address: str | None) -> HelpSession:
        consultant = domain.validate_consultant(consultant)
        async with self.database.transaction() as db:
            return await crud.claim_session(
                db=db, session_id=session_id, consultant=consultant, now=utcnow(), client_address=client_address,
            )

    async def attach_agent(self, *, session_code: str, resume_token: str | None) -> tuple[HelpSession, str]:
        async with self.database.transaction() as db:
            return await crud.attach_agent(
                db=db, session_code=session_code.strip(), now=utcnow(), resume_token=resume_token
            )

    async def resume_agent(self, *, session_id: str, resume_token: str) -> HelpSession:
        async with self.database.session() as db:
            return await crud.resume_agent(db=db, session_id=session_id, resume_token=resume_token)

    async def activate(self, *, session_id: str, at: datetime) -> HelpSession:
        async with self.database.transaction() as db:
            return await crud.activate_session(db=db, session_id=session_id, at=at)

    async def record_agent_mark(self, *, session_id: str, kind: str, at: datetime) -> HelpSession:
        async with self.database.transaction() as db:
            return await crud.record_agent_mark(db=db, session_id=session_id, kind=kind, at=at)

    async def post_chat(self, *, session_id: str, role: str, author: str, text: str):
        async with self.database.transaction() as db:
            return await crud.post_chat(db=db, session_id=session_id, role=role, author=author, text=text,
                                        now=utcnow())

    async def chat(self, *, session_id: str, after: int):
        async with self.database.session() as db:
            return await crud.chat_messages(db=db, session_id=session_id, after=after)

    async def expire_due_requests(self, *, now: datetime) -> list[str]:
        """End the requests nobody started in time (their `session.ended` makes consent revoke), and free dead
        codes; returns the ids of the ended sessions."""
        async with self.database.transaction() as db:
            expired = await crud.expire_requests(db=db, now=now)
            await crud.release_dead_codes(db=db, now=now)
        if expired:
            log.info("expired %d request(s) nobody started: %s", len(expired), ", ".join(expired))
        return expired
