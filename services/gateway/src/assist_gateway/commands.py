"""The commands the gateway sends to consent, session and billing (docs/commands.md). The gateway serves none
itself.
"""

from __future__ import annotations

from typing import Any

from assist_platform.commands import call_command
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime

TERMS = "cmd.consent.terms"
CONSENT_GRANT = "cmd.consent.grant"
CONSENT_REVOKE = "cmd.consent.revoke"
CONSENT_RECEIPT = "cmd.consent.receipt"
SESSION_REQUEST = "cmd.session.request"
SESSION_GET = "cmd.session.get"
SESSION_QUEUE = "cmd.session.queue"
SESSION_LIST = "cmd.session.list"
SESSION_CLAIM = "cmd.session.claim"
PRICE_LIST = "cmd.billing.price_list"
BILLING_RECORDS = "cmd.billing.records.list"
BILLING_RECORD = "cmd.billing.records.get"
BILLING_EXPORT = "cmd.billing.export"
BILLING_CREDIT = "cmd.billing.credit"
BILLING_CREDIT_GET = "cmd.billing.credit.get"
BILLING_CREDITS_EXPORT = "cmd.billing.credits.export"
BILLING_RECORDS_EXPORT = "cmd.billing.records.export"
BILLING_SESSION_REPORT = "cmd.billing.session_report"
PRICE_LIST_PUBLISH = "cmd.billing.price_list.publish"


async def call(
    runtime: ServiceRuntime, subject: str, payload: dict[str, Any], *, timeout: float | None = None
) -> dict[str, Any]:
    """`call_command` through the runtime's connection; 503 at once while there is no connection.

    Failing fast matters on the terminate path: a request sent while disconnected would wait in the
    client's buffer for the whole timeout before we could fall back.
    """
    nc = runtime.nc
    if nc is None or not nc.is_connected:
        raise Problem(503, "Service unavailable", "Messaging is unavailable right now; try again shortly.")
    return await call_command(
        nc, subject, payload, timeout=timeout or runtime.settings.command_timeout_seconds
    )


def drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if value is not None}


async def revoke_consent(
    runtime: ServiceRuntime, *, session_id: str, reason: str, lease_seconds: float, revoked_at: str | None = None,
    actor: str | None = None, client_address: str | None = None,
) -> dict[str, Any]:
    """The revocation that counts (`revoked_at`, `reason`, `ended_by`), answered once every relay is cut.

    The revoke waits for every lease holder to confirm its cut or let its lease lapse: it is allowed a full
    lease (`lease_seconds`, the longest consent has granted) beyond the usual command timeout.
    """
    timeout = runtime.settings.command_timeout_seconds + lease_seconds
    payload = drop_none({"session_id": session_id, "reason": reason, "revoked_at": revoked_at, "actor": actor,
                         "client_address": client_address})
    return await call(runtime, CONSENT_REVOKE, payload, timeout=timeout)


async def get_session(runtime: ServiceRuntime, *, session_id: str) -> dict[str, Any]:
    return await call(runtime, SESSION_GET, {"session_id": session_id})
