"""Who may play, download, link and erase a session's recording (issue #19), attacked with every identity: the
session's customer (token), its assigned consultant, supervisors and admins (their reads audited) read it; another
customer, a consultant not assigned and finance do not; a playback ticket reads its own session only, until it
expires, and is no credential for erasure or for minting another link; forged, expired and foreign tickets are
refused, by the API and by the playback page (a page, not JSON). The recording is written as the recorder writes
one, straight into the system (tests/support/recording_writer.py).
"""

from __future__ import annotations

import time

import httpx
import pytest
from assist_gateway.recording.links import PlaybackLinks
from assist_gateway.recording.rules import sign_ticket
from assist_gateway.settings import Settings
from identities import ANONYMOUS, CUSTOMER, IDENTITIES, OTHER_CUSTOMER, Cast, claimed_session, staff_tokens
from public_api import bearer
from recording_writer import Part, objects_in_system, write_to_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

READERS = frozenset({CUSTOMER, "consultant", "supervisor", "admin"})
READS = ("", "/terminal.cast", "/screen", "/report", "/archive.zip")
# What each identity is answered when it reads a recording it may not: no credential 401, a wrong one 403.
REFUSED = {ANONYMOUS: 401, OTHER_CUSTOMER: 403, "other_consultant": 403, "finance": 403}


def a_part(start: float) -> Part:
    return Part(started_at=start, terminal=[(start + 0.1, "o", "secret output\r\n")],
                events=[{"at": start, "type": "recording_started", "part": "p", "replica": "gw1"},
                        {"at": start + 0.5, "type": "chat", "role": "customer", "author": "Иван", "text": "hi"}])


async def with_cookie(system, token: str, method: str, path: str) -> httpx.Response:
    """A request that the staff cookie authenticates (as a page's), without the CSRF header."""
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": token}) as client:
        return await client.request(method, path)


async def recorded(client: httpx.AsyncClient, system, tokens: dict) -> tuple[Cast, list[str]]:
    """A session claimed by `maria` with a closed recording, and another customer's session with one too."""
    target, other = await claimed_session(client, tokens), await claimed_session(client, tokens)
    names = []
    for session in (target, other):
        start = time.time() - 60
        names += await write_to_system(system, session_id=session.session_id, parts=[a_part(start)],
                                       closed_at=start + 5)
    return Cast(target, other, tokens), names


async def test_each_identity_reads_a_recording_only_as_the_policy_says_and_overseers_are_audited(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        cast, _ = await recorded(client, system, await staff_tokens(client))
        base = f"/api/v1/sessions/{cast.target.session_id}/recording"
        answers = {(identity, path): (await client.get(base + path, headers=cast.headers(identity))).status_code
                   for identity in IDENTITIES for path in READS}
        expected = {(identity, path): 200 if identity in READERS else REFUSED[identity]
                    for identity in IDENTITIES for path in READS}
        assert answers == expected
        # The supervisor's reads are on the record, each with what was read.
        trail = await client.get("/api/v1/audit", params={"session_id": cast.target.session_id},
                                 headers=cast.headers("supervisor"))
        reads = [entry for entry in trail.json()["entries"] if entry["action"] == "session.read"]
        read_paths = {(entry["actor"], entry["detail"]["path"]) for entry in reads}
        assert {("sam", base + path) for path in READS} <= read_paths
        assert {("ada", base + path) for path in READS} <= read_paths  # the admin's too
        assert not [entry for entry in reads if entry["actor"] == "maria"]  # her own session: not an overseer's read


async def test_only_the_customer_mints_a_link_and_erases_and_a_ticket_does_neither(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        cast, names = await recorded(client, system, await staff_tokens(client))
        base = f"/api/v1/sessions/{cast.target.session_id}/recording"
        minted = {identity: (await client.post(f"{base}/link", headers=cast.headers(identity))).status_code
                  for identity in IDENTITIES}
        assert minted == {identity: 200 if identity == CUSTOMER else (401 if identity == ANONYMOUS else 403)
                          for identity in IDENTITIES}
        ticket = (await client.post(f"{base}/link", headers=cast.headers(CUSTOMER))).json()["url"].split("ticket=")[1]
        # A ticket reads, and is no credential for anything else, alone or beside another's token.
        assert (await client.get(base, params={"ticket": ticket})).status_code == 200
        assert (await client.post(f"{base}/link", params={"ticket": ticket})).status_code == 401
        assert (await client.post(f"{base}/erase", params={"ticket": ticket})).status_code == 401
        assert (await client.post(f"{base}/erase", params={"ticket": ticket},
                                    headers=cast.headers(OTHER_CUSTOMER))).status_code == 403
        assert (await client.get(f"/api/v1/sessions/{cast.target.session_id}",
                                 params={"ticket": ticket})).status_code == 401
        for identity in IDENTITIES:  # nobody but the customer erases, staff included
            if identity != CUSTOMER:
                refused = await client.post(f"{base}/erase", headers=cast.headers(identity))
                assert refused.status_code == (401 if identity == ANONYMOUS else 403), identity
        # A staff cookie would need the CSRF header to change anything; with it, still not theirs to erase.
        cookie = await with_cookie(system, cast.staff_tokens["supervisor"], "POST", f"{base}/erase")
        assert cookie.status_code == 403
        assert sorted(await objects_in_system(system, names)) == sorted(names)  # nothing erased by anyone
        erased = await client.post(f"{base}/erase", headers=cast.headers(CUSTOMER))
        assert erased.status_code == 200
        left = await objects_in_system(system, names)
        assert left and all(not name.startswith(cast.target.session_id) for name in left)  # theirs only


async def test_forged_expired_and_foreign_tickets_are_refused_by_the_api_and_the_page(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        cast, _ = await recorded(client, system, await staff_tokens(client))
        target, other = cast.target.session_id, cast.other.session_id
        foreign = (await client.post(f"/api/v1/sessions/{other}/recording/link",
                                     headers=bearer(cast.other.customer_token))).json()["url"].split("ticket=")[1]
        # The deployment's secret, as every replica reads it from ASSIST_DATA_DIR: a genuine ticket, expired.
        links = PlaybackLinks.from_settings(Settings(assist_data_dir=system.data_dir))
        expired = links.mint(target, now=time.time() - 3 * 86400)[0].split("ticket=")[1]
        forged = sign_ticket(secret=b"not the deployment's secret at all", session_id=target,
                             expires=int(time.time()) + 3600)
        tickets = {"forged": (forged, "recording_link_invalid"), "expired": (expired, "recording_link_expired"),
                   "another session's": (foreign, "recording_link_invalid"),
                   "garbage": ("x" * 20, "recording_link_invalid")}
        for what, (ticket, code) in tickets.items():
            for path in READS:
                answer = await client.get(f"/api/v1/sessions/{target}/recording{path}", params={"ticket": ticket})
                assert (answer.status_code, answer.json().get("code")) == (403, code), (what, path)
            page = await client.get(f"/recordings/{target}", params={"ticket": ticket})
            assert page.status_code == 403 and page.headers["content-type"].startswith("text/html"), what
        # A ticket longer than any ticket: the API refuses it before it is looked at, the page says it is not valid.
        assert (await client.get(f"/api/v1/sessions/{target}/recording",
                                 params={"ticket": "1" * 500})).status_code == 422
        long = await client.get(f"/recordings/{target}", params={"ticket": "1" * 500})
        assert long.status_code == 403 and long.headers["content-type"].startswith("text/html")
        # The page without a ticket or a login sends to the login; a consultant not assigned gets a page saying no.
        anonymous = await client.get(f"/recordings/{target}")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")
        olga = await with_cookie(system, cast.staff_tokens["other_consultant"], "GET", f"/recordings/{target}")
        assert olga.status_code == 403 and olga.headers["content-type"].startswith("text/html")
        fiona = await with_cookie(system, cast.staff_tokens["finance"], "GET", f"/recordings/{target}")
        assert fiona.status_code == 403
        maria = await with_cookie(system, cast.staff_tokens["consultant"], "GET", f"/recordings/{target}")
        assert maria.status_code == 200 and "wasm-unsafe-eval" in maria.headers["content-security-policy"]
