"""Staff accounts and their access tokens: argon2 password hashes, opaque bearer tokens stored hashed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from assist_platform.envelope import utcnow
from assist_platform.problems import Problem
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import password_problem, role_problem, token_digest, username_problem
from .models import AccessToken, StaffAccount
from .settings import Settings
from .storage import migrate, open_database

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password. Written out
# rather than hashed at import, which cost every gateway process a quarter of a second of CPU at its start; a test
# checks that it has the hasher's current parameters (a verify against it costs what a real one does).
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$VmP+s7HOlX1o+AD7XXRpPw$D8X+w4hTIxRn0tLKXmb+IPiIZJ+ItHLC2PNdpOK7618"


@dataclass(frozen=True)
class StaffIdentity:
    username: str
    role: str


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


async def create_staff_account(*, db: AsyncSession, username: str, password: str, role: str) -> StaffIdentity:
    """Add an account; 422 for a bad name, role or weak password, 409 if the username is taken."""
    for problem in (
        username_problem(username),
        role_problem(role),
        password_problem(password, username=username),
    ):
        if problem:
            raise Problem(422, "Invalid staff account", problem)
    if await db.get(StaffAccount, username) is not None:
        raise Problem(409, "Staff account exists", f"There is already a staff account named {username!r}.")
    db.add(StaffAccount(username=username, role=role, password_hash=await hash_password(password)))
    await db.flush()
    return StaffIdentity(username=username, role=role)


async def find_account(*, db: AsyncSession, username: str) -> StaffAccount | None:
    return await db.get(StaffAccount, username) if username else None


async def check_password(account: StaffAccount | None, password: str) -> StaffIdentity | None:
    """The identity of `account` if `password` is its password. Call it outside any transaction: argon2 is
    slow.
    """
    matches = await password_matches(account.password_hash if account else DUMMY_HASH, password)
    if account is None or not matches:
        return None
    return StaffIdentity(username=account.username, role=account.role)


async def issue_token(
    *, db: AsyncSession, identity: StaffIdentity, ttl_seconds: int, now: datetime | None = None
) -> IssuedToken:
    """A new opaque token for `identity`; expired tokens of anyone are swept out on the way."""
    now = now or utcnow()
    await db.exec(delete(AccessToken).where(AccessToken.expires_at < now))
    token = secrets.token_urlsafe(32)
    db.add(
        AccessToken(
            token_sha256=token_digest(token),
            username=identity.username,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await db.flush()
    return IssuedToken(access_token=token, expires_in=ttl_seconds)


async def authenticate_token(
    *, db: AsyncSession, token: str, now: datetime | None = None
) -> StaffIdentity | None:
    """The staff member a bearer token belongs to, or None if it is unknown, revoked or expired."""
    if not token:
        return None
    row = (
        await db.exec(
            select(AccessToken, StaffAccount)
            .join(StaffAccount, StaffAccount.username == AccessToken.username)
            .where(AccessToken.token_sha256 == token_digest(token))
        )
    ).first()
    if row is None:
        return None
    access, account = row
    if access.expires_at <= (now or utcnow()):
        return None
    return StaffIdentity(username=account.username, role=account.role)


async def live_token_digests(*, db: AsyncSession, digests: Collection[str], now: datetime | None = None) -> set[str]:
    """Those of `digests` whose token still opens something: issued, not revoked, not expired."""
    if not digests:
        return set()
    query = select(AccessToken.token_sha256).where(col(AccessToken.token_sha256).in_(list(digests)),
                                                   AccessToken.expires_at > (now or utcnow()))
    return set((await db.exec(query)).all())


async def revoke_token(*, db: AsyncSession, token: str) -> None:
    await db.exec(delete(AccessToken).where(AccessToken.token_sha256 == token_digest(token)))


def add_user(settings: Settings, *, role: str, username: str, password: str) -> StaffIdentity:
    """For `assist user add`: migrate the gateway database, then add the account (raises Problem 409/422)."""
    migrate(settings)

    async def _add() -> StaffIdentity:
        database = open_database(settings)
        try:
            async with database.transaction() as db:
                return await create_staff_account(db=db, username=username, password=password, role=role)
        finally:
            await database.close()

    return asyncio.run(_add())
