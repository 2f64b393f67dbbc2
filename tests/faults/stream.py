"""A stream of sessions that keeps going through a fault, as real customers and consultants would (retrying 5xx and
1013, giving up a relay the fault broke and ending the session), and the invariants checked afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import nats
import websockets
from public_api import bearer, close_code, connect_agent, connect_consultant, login, next_control, request_help
from relay_flow import bytes_cross_both_ways
from stack import PASSWORD
from assist_platform.testing import stored_messages

# How long after a 200 to terminate/end a socket may still be seen open: the cut happened before the answer, so
# this is only the close frame's trip (or the lapse of a lease the gateway could not renew: fail closed).
CUT_GRACE_SECONDS = 1.0
STREAM_TIMEOUT = 75.0
# ended; lease lapsed; gateway going away; try again; the gateway failed on the socket; socket lost
CUT_CODES = {4410, 4408, 1012, 1013, 1011, None}


@dataclass
class Outcome:
    session_id: str
    claimed: bool = False
    relayed: bool = False  # bytes crossed both ways before the end
    step: str = "requested"  # how far it got, for the report of a stream that hangs
    disturbed: str = ""  # what the fault broke on the way, if anything
    close_codes: list = field(default_factory=list)


async def retry(call, attempts: int = 120):
    """A client tries again while a service is down (5xx) or the gateway itself is away (connection refused)."""
    for _ in range(attempts):
        try:
            response = await call()
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)  # back-off between client retries
    raise AssertionError("the system did not recover within 30 s")


async def _socket(connect, wanted: str):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ws = await connect()
            await next_control(ws, wanted, timeout=10)
            return ws
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code not in (1011, 1012, 1013):
                raise
        except OSError:
            pass  # the gateway is restarting
        await asyncio.sleep(0.25)  # back-off between client retries
    raise AssertionError(f"no {wanted} within 30 s")


async def one_session(gateway: str, token: str, index: int, outcomes: list[Outcome]) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        request = None
        while request is None:
            try:
                request = await request_help(client)
            except (AssertionError, httpx.TransportError):
                await asyncio.sleep(0.25)  # 503 or refused while a service restarts: the customer asks again
        outcome = Outcome(request.session_id)
        outcomes.append(outcome)
        sockets = []
        try:
            agent = await _socket(lambda: connect_agent(gateway, request.session_code), "attached")
            sockets.append(agent)
            outcome.step = "agent attached"
            claimed = await retry(lambda: client.post(f"/api/v1/sessions/{request.session_id}/claim",
                                                      headers=bearer(token)))
            assert claimed.status_code == 200, claimed.text
            outcome.claimed = True
            consultant = await _socket(lambda: connect_consultant(gateway, request.session_id, token), "peer_joined")
            sockets.append(consultant)
            outcome.step = "consultant joined"
            await bytes_cross_both_ways(agent, consultant)
            outcome.relayed = True
        except Exception as broken:  # the fault broke this relay: the session is ended all the same
            outcome.disturbed = f"{type(broken).__name__}: {broken}"[:200]
        outcome.step = "ending"
        if index % 2 or not outcome.claimed:  # only an assigned consultant may end it; the customer always may
            ended = await retry(lambda: client.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                                    headers=bearer(request.customer_token)))
        else:
            ended = await retry(lambda: client.post(f"/api/v1/sessions/{request.session_id}/end",
                                                    headers=bearer(token)))
        assert ended.status_code == 200, ended.text
        outcome.step = "ended"
        for ws in sockets:
            outcome.close_codes.append((await close_code(ws, timeout=CUT_GRACE_SECONDS))[0])


async def run_stream(gateways: list[str], *, sessions: int, concurrency: int, fault, fault_after: int) -> list[Outcome]:
    """`sessions` sessions, `concurrency` at a time; `fault()` runs once `fault_after` sessions were requested."""
    async with httpx.AsyncClient(base_url=gateways[0], timeout=30) as client:
        token = await login(client, "maria", PASSWORD)
    outcomes: list[Outcome] = []
    limit = asyncio.Semaphore(concurrency)

    async def limited(index: int) -> None:
        async with limit:
            await one_session(gateways[index % len(gateways)], token, index, outcomes)

    async def inject() -> None:
        while len(outcomes) < fault_after:
            await asyncio.sleep(0.05)  # waiting for the stream to be under way
        await fault()

    try:
        async with asyncio.timeout(STREAM_TIMEOUT):
            await asyncio.gather(inject(), *(limited(i) for i in range(sessions)))
    except TimeoutError:
        raise AssertionError(f"the stream hung: {[(o.session_id, o.step, o.disturbed) for o in outcomes]}") from None
    return outcomes


# --- invariants ---------------------------------------------------------------------------------------------------

async def _events(nats_url: str) -> dict[str, Counter]:
    """Per session id, how many of each event type the streams hold."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        found: dict[str, Counter] = {}
        for stream in ("CONSENT", "SESSION", "BILLING"):
            for msg in await stored_messages(js, stream):
                event = json.loads(msg.data)
                found.setdefault(event["subject"], Counter())[event["type"]] += 1
        return found
    finally:
        await nc.close()


def _violations(outcome: Outcome, counts: Counter) -> list[str]:
    once = ["consent.granted", "consent.revoked", "session.requested", "session.ended"]
    wrong = [f"{kind} × {counts[kind]}" for kind in once if counts[kind] != 1]
    billed = counts["billing.record.closed"]
    if counts["session.started"] > 1:
        wrong.append(f"session.started × {counts['session.started']}")
    # Billed exactly once if it became active, never otherwise (CONTRACT §4).
    if billed != (1 if counts["session.started"] else 0):
        wrong.append(f"billing.record.closed × {billed} (started × {counts['session.started']})")
    if outcome.relayed and not counts["session.started"]:
        wrong.append("bytes crossed, yet no session.started")
    return [f"{outcome.session_id}: {problem}" for problem in wrong]


async def assert_invariants(nats_url: str, outcomes: list[Outcome], timeout: float = 45.0) -> None:
    """No access after a revocation, every event exactly once, every started session billed exactly once."""
    open_after_end = [(o.session_id, o.close_codes) for o in outcomes if not set(o.close_codes) <= CUT_CODES]
    assert not open_after_end, f"sockets not cut within {CUT_GRACE_SECONDS}s of the 200: {open_after_end}"
    deadline = time.monotonic() + timeout
    while True:  # outboxes and consumers catch up after the fault: wait for the condition, then judge
        events = await _events(nats_url)
        wrong = [v for o in outcomes for v in _violations(o, events.get(o.session_id, Counter()))]
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)  # polling interval while the pipeline drains
    assert not wrong, "\n".join(wrong)
