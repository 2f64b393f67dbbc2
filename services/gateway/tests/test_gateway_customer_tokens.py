"""Which session a customer token opens: read from the database once per token, then remembered (a credential
is never changed or deleted); tokens that open nothing are never remembered."""

from __future__ import annotations

import secrets

from assist_gateway import crud
from assist_gateway.domain import token_digest
from assist_gateway.models import CustomerCredential
from assist_gateway.service import CustomerTokens


async def _store(runtime, token: str, session_id: str) -> None:
    async with runtime.database.transaction() as db:
        await crud.store_customer_credential(db=db, session_id=session_id, customer_token=token)


async def _delete(runtime, token: str) -> None:
    """Not something the gateway does: here it shows whether an answer came from memory or from the database."""
    async with runtime.database.transaction() as db:
        await db.delete(await db.get(CustomerCredential, token_digest(token)))


async def test_a_token_read_once_is_answered_from_memory_after(gateway) -> None:
    tokens = CustomerTokens(gateway.runtime)
    token = secrets.token_urlsafe(32)
    await _store(gateway.runtime, token, "session-a")
    assert await tokens.session_of(token) == "session-a"
    await _delete(gateway.runtime, token)
    assert await tokens.session_of(token) == "session-a"
    assert await CustomerTokens(gateway.runtime).session_of(token) is None  # another replica reads the database


async def test_a_token_that_opens_nothing_is_looked_up_every_time(gateway) -> None:
    tokens = CustomerTokens(gateway.runtime)
    token = secrets.token_urlsafe(32)
    assert await tokens.session_of(token) is None
    await _store(gateway.runtime, token, "session-b")
    assert await tokens.session_of(token) == "session-b"


async def test_the_least_recently_used_token_leaves_memory_first(gateway) -> None:
    tokens = CustomerTokens(gateway.runtime, capacity=2)
    first, second, third = (secrets.token_urlsafe(32) for _ in range(3))
    for token, session_id in ((first, "s1"), (second, "s2"), (third, "s3")):
        await _store(gateway.runtime, token, session_id)
    assert await tokens.session_of(first) == "s1"
    assert await tokens.session_of(second) == "s2"
    assert await tokens.session_of(first) == "s1"  # used again: second is now the least recent
    assert await tokens.session_of(third) == "s3"
    for token in (first, second, third):
        await _delete(gateway.runtime, token)
    assert await tokens.session_of(first) == "s1"
    assert await tokens.session_of(third) == "s3"
    assert await tokens.session_of(second) is None  # forgotten, and the database no longer has it


async def test_a_help_request_remembers_its_customer_token_on_the_replica_that_made_it(gateway) -> None:
    tokens = CustomerTokens(gateway.runtime)
    tokens.remember("made-here", "session-c")
    assert await tokens.session_of("made-here") == "session-c"
    assert await CustomerTokens(gateway.runtime).session_of("made-here") is None  # never stored: remembered only
