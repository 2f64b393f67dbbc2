"""The commands the gateway sends to consent, session and billing (docs/commands.md); their subjects and models
are the contract's (`assist_contract`). The gateway serves none itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from assist_contract import billing, consent, session
from assist_contract.spec import CommandSpec
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from pydantic import BaseModel

Out = TypeVar("Out")

# The names the routes use for the contract's commands.
TERMS = consent.terms
CONSENT_GRANT = consent.grant
CONSENT_RECEIPT = consent.receipt
CONSENT_REQUEST_SCOPES = consent.request_scopes
CONSENT_DECIDE_SCOPES = consent.decide_scopes
SESSION_REQUEST = session.request
SESSION_GET = session.get
SESSION_QUEUE = session.queue
SESSION_LIST = session.list_sessions
SESSION_CLAIM = session.claim
SESSION_CHAT_POST = session.chat_post
SESSION_CHAT_LIST = session.chat_list
PRICE_LIST = billing.price_list
BILLING_RECORDS = billing.records_list
BILLING_RECORD = billing.record_get
BILLING_EXPORT = billing.export
BILLING_CREDIT = billing.credit
BILLING_CREDIT_GET = billing.credit_get
BILLING_CREDITS_EXPORT = billing.credits_export
BILLING_RECORDS_EXPORT = billing.records_export
BILLING_SESSION_REPORT = billing.session_report
PRICE_LIST_PUBLISH = billing.price_list_publish


async def call(
    runtime: ServiceRuntime, command: CommandSpec[Any, Out], payload: BaseModel | Mapping[str, Any], *,
    timeout: float | None = None,
) -> Out:
    """The command through the runtime's connection; 503 at once while there is no connection.

    Failing fast matters on the terminate path: a request sent while disconnected would wait in the
    client's buffer for the whole timeout before we could fall back.
    """
    nc = runtime.nc
    if nc is None or not nc.is_connected:
        raise Problem(503, "Service unavailable", "Messaging is unavailable right now; try again shortly.")
    return await command(nc, payload, timeout=timeout or runtime.settings.command_timeout_seconds)


def drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


async def revoke_consent(
    runtime: ServiceRuntime, *, session_id: str, reason: str, lease_seconds: float, revoked_at: str | None = None,
    actor: str | None = None, client_address: str | None = None,
) -> consent.Revoked:
    """The revocation that counts (`revoked_at`, `reason`, `ended_by`), answered once every relay is cut.

    The revoke waits for every lease holder to confirm its cut or let its lease lapse: it is allowed a full
    lease (`lease_seconds`, the longest consent has granted) beyond the usual command timeout.
    """
    timeout = runtime.settings.command_timeout_seconds + lease_seconds
    payload = drop_none({"session_id": session_id, "reason": reason, "revoked_at": revoked_at, "actor": actor,
                         "client_address": client_address})
    return await call(runtime, consent.revoke, payload, timeout=timeout)


async def withdraw_consent_scope(
    runtime: ServiceRuntime, *, session_id: str, scope: str, lease_seconds: float, actor: str | None = None,
    client_address: str | None = None,
) -> consent.ScopeWithdrawal:
    """The scopes left once every relay holding a lease has narrowed to them; like a revoke, allowed a full lease
    beyond the usual command timeout."""
    timeout = runtime.settings.command_timeout_seconds + lease_seconds
    payload = drop_none({"session_id": session_id, "scope": scope, "actor": actor, "client_address": client_address})
    return await call(runtime, consent.withdraw_scope, payload, timeout=timeout)


async def get_session(runtime: ServiceRuntime, *, session_id: str) -> session.SessionView:
    return await call(runtime, SESSION_GET, {"session_id": session_id})
