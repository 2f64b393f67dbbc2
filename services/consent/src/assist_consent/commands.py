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
    ScopeDecisionInput,
    ScopeRequestInput,
    ScopeWithdrawInput,
    SessionInput,
    TermsInput,
)
from assist_contract.spec import command_table
from assist_platform.audit import audit_handler
from assist_platform.runtime import Command

from .service import ConsentService


class ConsentCommands:
    """The command table of the service: each handler translates its input into one call of the service, which
    owns the transaction. `revoke` and `withdraw_scope` are answered concurrently: they wait for lease holders."""

    def __init__(self, service: ConsentService) -> None:
        self._service = service

    def commands(self) -> list[Command]:
        table = {
            contract.audit: audit_handler(service="consent", database=self._service.database),
            contract.terms: self.terms,
            contract.grant: self.grant,
            contract.revoke: self.revoke,
            contract.withdraw_scope: self.withdraw_scope,
            contract.request_scopes: self.request_scopes,
            contract.decide_scopes: self.decide_scopes,
            contract.get: self.get,
            contract.receipt: self.receipt,
            contract.lease_acquire: self.acquire,
            contract.lease_renew: self.renew,
            contract.lease_release: self.release,
        }
        return command_table(table, concurrent={contract.revoke, contract.withdraw_scope})

    async def terms(self, request: TermsInput) -> dict:
        return self._service.terms(lang=request.lang)

    async def grant(self, request: GrantInput) -> dict:
        return await self._service.grant(
            session_id=request.session_id,
            customer=request.customer.model_dump(exclude_none=True),
            terms_version=request.terms_version,
            lang=request.lang,
            scopes=request.scopes,
            client_address=request.client_address,
            user_agent=request.user_agent,
        )

    async def revoke(self, request: RevokeInput) -> dict:
        return await self._service.revoke(
            session_id=request.session_id, reason=request.reason, revoked_at=request.revoked_at,
            actor=request.actor, client_address=request.client_address,
        )

    async def withdraw_scope(self, request: ScopeWithdrawInput) -> dict:
        return await self._service.withdraw_scope(
            session_id=request.session_id, scope=request.scope, actor=request.actor,
            client_address=request.client_address,
        )

    async def request_scopes(self, request: ScopeRequestInput) -> dict:
        return await self._service.request_scopes(
            session_id=request.session_id, scopes=request.scopes, reason=request.reason,
            requested_by=request.requested_by,
        )

    async def decide_scopes(self, request: ScopeDecisionInput) -> dict:
        return await self._service.decide_scopes(
            session_id=request.session_id, request_id=request.request_id, approve=request.approve,
            actor=request.actor, client_address=request.client_address, user_agent=request.user_agent,
        )

    async def get(self, request: SessionInput) -> dict:
        return await self._service.get(session_id=request.session_id)

    async def receipt(self, request: SessionInput) -> dict:
        return await self._service.receipt(session_id=request.session_id)

    async def acquire(self, request: LeaseAcquireInput) -> dict:
        return await self._service.acquire_lease(
            session_id=request.session_id, holder=request.holder, endpoint=request.endpoint
        )

    async def renew(self, request: LeaseRenewInput) -> dict:
        return await self._service.renew_leases(holder=request.holder, lease_ids=request.lease_ids)

    async def release(self, request: LeaseReleaseInput) -> dict:
        return await self._service.release_leases(lease_ids=request.lease_ids)
