"""The consent commands (docs/commands.md): each registered through its spec in `assist_contract.consent` (subject,
input model, output model), handled by one service operation."""

from __future__ import annotations

from assist_contract import consent as contract
from assist_contract.consent import (
    GrantInput,
    LeaseAcquireInput,
    LeaseReleaseInput,
    LeaseRenewInput,
    RevokeInput,
    SessionInput,
    TermsInput,
)
from assist_platform.audit import audit_handler
from assist_platform.runtime import Command

from .service import ConsentService


def consent_commands(service: ConsentService) -> list[Command]:
    """The command table of the service; `revoke` is answered concurrently because it waits for holders."""

    async def terms(request: TermsInput) -> dict:
        return service.terms(lang=request.lang)

    async def grant(request: GrantInput) -> dict:
        return await service.grant(
            session_id=request.session_id,
            customer=request.customer.model_dump(exclude_none=True),
            terms_version=request.terms_version,
            lang=request.lang,
            scopes=request.scopes,
            client_address=request.client_address,
            user_agent=request.user_agent,
        )

    async def revoke(request: RevokeInput) -> dict:
        return await service.revoke(
            session_id=request.session_id, reason=request.reason, revoked_at=request.revoked_at,
            actor=request.actor, client_address=request.client_address,
        )

    async def get(request: SessionInput) -> dict:
        return await service.get(session_id=request.session_id)

    async def receipt(request: SessionInput) -> dict:
        return await service.receipt(session_id=request.session_id)

    async def acquire(request: LeaseAcquireInput) -> dict:
        return await service.acquire_lease(
            session_id=request.session_id, holder=request.holder, endpoint=request.endpoint
        )

    async def renew(request: LeaseRenewInput) -> dict:
        return await service.renew_leases(holder=request.holder, lease_ids=request.lease_ids)

    async def release(request: LeaseReleaseInput) -> dict:
        return await service.release_leases(lease_ids=request.lease_ids)

    return [
        contract.audit.serve(audit_handler(service="consent", database=service.database)),
        contract.terms.serve(terms),
        contract.grant.serve(grant),
        contract.revoke.serve(revoke, concurrent=True),
        contract.get.serve(get),
        contract.receipt.serve(receipt),
        contract.lease_acquire.serve(acquire),
        contract.lease_renew.serve(renew),
        contract.lease_release.serve(release),
    ]
