"""Staff accounts and tokens: argon2 hashes, login, wrong passwords, logout, expiry, cookies, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from assist_gateway.models import AccessToken, StaffAccount
from assist_gateway.staff import DUMMY_HASH, authenticate_token, create_staff_account
from assist_platform.envelope import utcnow
from assist_platform.problems import Problem
from sqlmodel import select

PASSWORD = "correct horse battery"  # the password conftest gives every staff account


async def test_passwords_are_stored_as_argon2_hashes(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    async with gateway.runtime.database.session() as db:
        account = (await db.exec(select(StaffAccount))).one()
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


def test_an_unknown_username_is_checked_against_a_hash_as_costly_as_a_real_one() -> None:
    hasher = PasswordHasher()
    assert not hasher.check_needs_rehash(DUMMY_HASH)  # the parameters new accounts' hashes get
    with pytest.raises(VerifyMismatchError):
        hasher.verify(DUMMY_HASH, PASSWORD)


async def test_an_existing_username_is_a_conflict(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    with pytest.raises(Problem) as refused:
        await gateway.add_staff("alice", "supervisor")
    assert refused.value.status == 409


@pytest.mark.parametrize(
    ("password", "role"), [("", "consultant"), ("short", "consultant"), (PASSWORD, "root")]
)
async def test_weak_passwords_and_unknown_roles_are_refused(gateway, password: str, role: str) -> None:
    async with gateway.runtime.database.transaction() as db:
        with pytest.raises(Problem) as refused:
            await create_staff_account(db=db, username="alice", password=password, role=role)
    assert refused.value.status == 422


async def test_login_gives_a_bearer_token_that_says_who_you_are(gateway) -> None:
    await gateway.add_staff("alice", "supervisor")
    response = await gateway.login("alice")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == gateway.app.state.settings.staff_token_ttl_seconds
    me = await gateway.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "alice", "role": "supervisor"}


async def test_tokens_are_stored_hashed(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    token = (await gateway.login("alice")).json()["access_token"]
    async with gateway.runtime.database.session() as db:
        stored = (await db.exec(select(AccessToken))).one()
    assert stored.token_sha256 != token and len(stored.token_sha256) == 64


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)])
async def test_wrong_credentials_are_a_401_problem(gateway, username: str, password: str) -> None:
    await gateway.add_staff("alice", "consultant")
    response = await gateway.login(username, password)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


async def test_no_or_garbage_token_is_a_401_problem(gateway) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}):
        response = await gateway.client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


async def test_logout_makes_the_token_useless(gateway) -> None:
    headers = await gateway.staff_headers("alice", "consultant")
    assert (await gateway.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await gateway.client.get("/api/v1/me", headers=headers)).status_code == 401
    assert (await gateway.client.post("/api/v1/auth/logout", headers=headers)).status_code == 401


async def test_a_token_stops_working_when_it_expires(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    token = (await gateway.login("alice")).json()["access_token"]
    ttl = gateway.app.state.settings.staff_token_ttl_seconds
    async with gateway.runtime.database.session() as db:
        assert (
            await authenticate_token(db=db, token=token, now=utcnow() + timedelta(seconds=ttl - 5))
            is not None
        )
        assert await authenticate_token(db=db, token=token, now=utcnow() + timedelta(seconds=ttl + 1)) is None


async def test_an_expired_token_is_refused_over_http(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    token = (await gateway.login("alice")).json()["access_token"]
    async with gateway.runtime.database.transaction() as db:
        stored = (await db.exec(select(AccessToken))).one()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        db.add(stored)
    response = await gateway.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_the_web_ui_cookie_works_like_the_bearer_header(gateway) -> None:
    await gateway.add_staff("alice", "finance")
    token = (await gateway.login("alice")).json()["access_token"]
    gateway.client.cookies.set("assist_token", token)
    response = await gateway.client.get("/api/v1/me")
    assert response.json()["role"] == "finance"


async def test_repeated_failed_logins_are_throttled_per_address(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    limit = gateway.app.state.settings.login_attempts_per_minute
    for _ in range(limit):
        assert (await gateway.login("alice", "wrong password")).status_code == 401
    throttled = await gateway.login("alice")  # even the right password waits now
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60


async def test_successful_logins_are_not_throttled(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    for _ in range(gateway.app.state.settings.login_attempts_per_minute + 2):
        assert (await gateway.login("alice")).status_code == 200


def test_the_cli_helper_migrates_and_adds_an_account(gateway_settings) -> None:
    from assist_gateway.staff import add_user

    identity = add_user(gateway_settings, role="admin", username="root-admin", password="a long secret")
    assert (identity.username, identity.role) == ("root-admin", "admin")
    with pytest.raises(Problem) as refused:
        add_user(gateway_settings, role="admin", username="root-admin", password="a long secret")
    assert refused.value.status == 409
