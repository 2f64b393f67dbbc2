"""Who attacks: the anonymous caller, customers (of the session under attack and of another one) and every staff
role, each with the credential the platform gave it; and the sessions they are let loose on.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from public_api import HelpRequest, bearer, login, request_help
from system import System, own_system

PASSWORD = "a long enough password"
# Staff accounts, one per role, plus a second consultant who is never assigned the session under attack.
STAFF = {"consultant": "maria", "other_consultant": "olga", "supervisor": "sam", "finance": "fiona", "admin": "ada"}
ANONYMOUS, CUSTOMER, OTHER_CUSTOMER = "anonymous", "customer", "other_customer"
IDENTITIES = (ANONYMOUS, CUSTOMER, OTHER_CUSTOMER, *STAFF)
STAFF_IDENTITIES = frozenset(STAFF)


def module_system(tmp_path_factory, *, data_dir: Path | None = None, staff: bool = True, gateways: int = 1,
                  **extra_env: str) -> AbstractContextManager[System]:
    """A system of the module's own (`own_system`) with the suite's staff accounts unless `staff` is false."""
    users = [(identity.removeprefix("other_"), username, PASSWORD)  # "other_consultant" is a second consultant
             for identity, username in STAFF.items()] if staff else []
    return own_system(data_dir or tmp_path_factory.mktemp("security"), gateways=gateways, users=users, **extra_env)


@dataclass
class Cast:
    """Credentials of every identity for one target session (`customer` is that session's customer)."""

    target: HelpRequest
    other: HelpRequest
    staff_tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, identity: str) -> dict[str, str]:
        if identity == ANONYMOUS:
            return {}
        if identity == CUSTOMER:
            return bearer(self.target.customer_token)
        if identity == OTHER_CUSTOMER:
            return bearer(self.other.customer_token)
        return bearer(self.staff_tokens[identity])


async def staff_tokens(client: httpx.AsyncClient) -> dict[str, str]:
    return {key: await login(client, username, PASSWORD) for key, username in STAFF.items()}


async def claimed_session(client: httpx.AsyncClient, tokens: dict[str, str]) -> HelpRequest:
    """A session assigned to the consultant `maria` (never to `olga`)."""
    request = await request_help(client)
    claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(tokens["consultant"]))
    assert claimed.status_code == 200, claimed.text
    return request
