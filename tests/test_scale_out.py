"""Scale-out on one machine: a 3-node NATS cluster (JetStream, streams replicated 3 times, the per-service users),
two gateways, two billing workers, one consent and one session process, each its own OS process.

100 sessions are requested, claimed, relayed across the two gateways and ended, while one NATS node is killed
half-way; every session ends with both sockets cut (4410) and exactly one closed billing record.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nats
import pytest
import websockets
from assist_platform.natsserver import NatsServerProcess
from assist_platform.ports import free_ports
from assist_platform.testing import eventually, stored_messages, wait_until_ready
from public_api import (
    bearer,
    close_code,
    connect_agent,
    connect_consultant,
    login,
    next_control,
    request_help,
    wait_for_status,
)
from relay_flow import next_binary
from system import UNTHROTTLED_HELP_REQUESTS

from assist.devnats import BundledNatsAuth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SESSIONS = 100
CONCURRENCY = 20
PASSWORD = "a long enough password"


class Cluster:
    """Three nats-server processes on loopback, routed to each other, with the generated users."""

    def __init__(self, root: Path) -> None:
        self.auth = BundledNatsAuth.generate(root)
        # Route ports and client ports picked together: none is bound until the nodes start.
        ports = free_ports(6)
        cluster_ports, client_ports = ports[:3], ports[3:]
        self.nodes = []
        for i, (cluster_port, client_port) in enumerate(zip(cluster_ports, client_ports, strict=True)):
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports if p != cluster_port)
            self.nodes.append(NatsServerProcess(
                root / f"n{i}", port=client_port, log_file=root / f"nats-{i}.log", env=self.auth.server_env(),
                extra_args=["-c", str(self.auth.config_file), "--server_name", f"n{i}", "--cluster_name", "assist",
                            "--cluster", f"nats://127.0.0.1:{cluster_port}", "--routes", routes],
            ))

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        # At once: a clustered JetStream node opens its client port only once it has routes to the others.
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(NatsServerProcess.start, self.nodes))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    async def wait_for_jetstream(self, timeout: float = 30.0) -> None:
        nc = await nats.connect(self.url.split(","), user="operator", password=self.auth.passwords["operator"])
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    await nc.jetstream().account_info()
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)  # the cluster is electing its meta leader
        finally:
            await nc.close()


class Processes:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.children: dict[str, tuple[subprocess.Popen, str]] = {}
        self.ports: set[int] = set()  # picked for a child that may not have bound it yet

    def run(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "-m", "assist", *args], env=self.env, check=False,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self, name: str, service: str, **env: str) -> str:
        port = free_ports(1, avoid=self.ports)[0]
        self.ports.add(port)
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "assist", "service", service, "--port", str(port)],
            env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        self.children[name] = (process, url)
        return url

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until_ready(self.children, timeout=timeout, log_tail=self.log)

    def log(self, name: str) -> str:
        return "\n".join((self.root / f"{name}.log").read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        for process, _url in self.children.values():
            if process.poll() is None:
                process.terminate()
        for process, _url in self.children.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def scaled_out(tmp_path, database_location):
    cluster = Cluster(tmp_path / "nats")
    cluster.start()
    env = {**os.environ, **database_location.env(), "NATS_URL": cluster.url, "STREAM_REPLICAS": "3",
           "CODE_ATTEMPTS_PER_MINUTE": "100000", **UNTHROTTLED_HELP_REQUESTS, "LOG_LEVEL": "warning",
           "PYTHONUNBUFFERED": "1"}
    processes = Processes(tmp_path, env)
    try:
        asyncio.run(cluster.wait_for_jetstream())
        processes.run("migrate")  # once, before any replica starts
        processes.run("user", "add", "--role", "consultant", "--username", "maria", "--password", PASSWORD)
        processes.run("user", "add", "--role", "finance", "--username", "fiona", "--password", PASSWORD)
        for name in ("consent", "session"):
            processes.start(name, name, **cluster.auth.service_env(name))
        for i in (1, 2):
            processes.start(f"billing-{i}", "billing", **cluster.auth.service_env("billing"))
        gateways = [processes.start(f"gateway-{i}", "gateway", REPLICA_ID=f"gw{i}", ASSIST_PORT="0",
                                    **cluster.auth.service_env("gateway")) for i in (1, 2)]
        processes.wait_ready()
        yield cluster, processes, gateways
    finally:
        processes.stop()
        cluster.stop()


async def _with_retry(call, attempts: int = 20):
    """The public API answers 503 while a NATS node's clients fail over; a client tries again."""
    for _ in range(attempts):
        response = await call()
        if response.status_code < 500:
            return response
        await asyncio.sleep(0.25)
    return response


async def _open_socket(connect, wanted: str):
    """A socket and its first `wanted` control; the gateway closes with 1013 (try again) when a command it needed
    was lost with a NATS node, and a client connects again."""
    for _ in range(10):
        ws = await connect()
        try:
            await next_control(ws, wanted, timeout=30)
            return ws
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1013:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError(f"no {wanted} after 10 tries")


async def _request_help(customer: httpx.AsyncClient):
    for _ in range(10):
        try:
            return await request_help(customer)
        except AssertionError as refused:  # 503 while a command was lost with a NATS node
            if " 5" not in f" {refused}" and "503" not in str(refused):
                raise
            await asyncio.sleep(0.25)
    return await request_help(customer)


async def _attached_request(customer: httpx.AsyncClient, gateway: str, abandoned: list[str]):
    """A help request and its attached agent.

    The gateway asks `cmd.session.attach_agent` again, with the resume token it chose, when an answer is lost with
    a NATS node (tests/test_e2e_lost_reply.py). Only when three asks in a row are lost does the agent hear 1013, and
    its retry (a new socket, a new token) finds the code spent; the customer then gives up that request (it ends,
    never active, never billed) and asks again, as a real customer would.
    """
    for _ in range(5):
        request = await _request_help(customer)
        try:
            return request, await _open_socket(lambda r=request: connect_agent(gateway, r.session_code), "attached")
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 4410:
                raise
        abandoned.append(request.session_id)
        await _with_retry(lambda r=request: customer.post(f"/api/v1/sessions/{r.session_id}/terminate",
                                                          headers=bearer(r.customer_token)))
    raise AssertionError("no agent could attach after 5 requests")


async def bytes_cross_despite_failover(agent, consultant, attempts: int = 5) -> None:
    """Bytes cross the replicas both ways. The bridge is core NATS (at most once): a frame in flight while the
    node under one gateway dies can be lost (docs/relay.md), so a probe that vanished is sent again, a few times."""
    for sender, receiver in ((agent, consultant), (consultant, agent)):
        for _attempt in range(attempts):
            blob = b"\x01" + os.urandom(2047)  # channel 1 (terminal): 4 and 5 need scopes of their own
            await sender.send(blob)
            try:
                while await next_binary(receiver, timeout=3.0) != blob:
                    pass  # an earlier probe that arrived late
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError(f"no frame crossed the replicas in {attempts} attempts")


async def one_session(index: int, gateways: list[str], token: str, started: list[str],
                      abandoned: list[str]) -> str:
    agent_gw, consultant_gw = gateways[index % 2], gateways[(index + 1) % 2]  # the relay crosses replicas
    async with httpx.AsyncClient(base_url=agent_gw, timeout=30) as customer, \
            httpx.AsyncClient(base_url=consultant_gw, timeout=30) as staff:
        request, agent = await _attached_request(customer, agent_gw, abandoned)
        claimed = await _with_retry(lambda: staff.post(f"/api/v1/sessions/{request.session_id}/claim",
                                                       headers=bearer(token)))
        assert claimed.status_code == 200, claimed.text
        consultant = await _open_socket(lambda: connect_consultant(consultant_gw, request.session_id, token),
                                        "peer_joined")
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active", timeout=30)
        await bytes_cross_despite_failover(agent, consultant)
        started.append(request.session_id)
        if index % 2:
            ended = await _with_retry(lambda: customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                                            headers=bearer(request.customer_token)))
        else:
            ended = await _with_retry(lambda: staff.post(f"/api/v1/sessions/{request.session_id}/end",
                                                         headers=bearer(token)))
        assert ended.status_code == 200, ended.text
        # "200 means cut": both ends are closed as ended, on whichever replica each one sits.
        assert (await close_code(agent, timeout=15))[0] == 4410
        assert (await close_code(consultant, timeout=15))[0] == 4410
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended", timeout=30)
        return request.session_id


async def closed_records(gateway: str, token: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as finance:
        response = await _with_retry(lambda: finance.get("/api/v1/billing/records",
                                                         params={"status": "closed", "limit": 500},
                                                         headers=bearer(token)))
        assert response.status_code == 200, response.text
        return response.json()["records"]


async def closed_events(cluster: Cluster) -> Counter:
    nc = await nats.connect(cluster.url.split(","), user="operator", password=cluster.auth.passwords["operator"])
    try:
        found = Counter()
        for msg in await stored_messages(nc.jetstream(), "BILLING"):
            event = json.loads(msg.data)
            if event["type"] == "billing.record.closed":
                found[event["subject"]] += 1
        return found
    finally:
        await nc.close()


async def test_100_sessions_over_two_gateways_and_two_billing_workers_survive_a_nats_node_kill(scaled_out):
    cluster, processes, gateways = scaled_out
    async with httpx.AsyncClient(base_url=gateways[0], timeout=30) as client:
        token = await login(client, "maria", PASSWORD)
        finance_token = await login(client, "fiona", PASSWORD)

    started: list[str] = []
    abandoned: list[str] = []
    limit = asyncio.Semaphore(CONCURRENCY)

    async def limited(index: int) -> str:
        async with limit:
            return await one_session(index, gateways, token, started, abandoned)

    async def kill_a_node_half_way() -> None:
        while len(started) < SESSIONS // 3:
            await asyncio.sleep(0.05)  # waiting for a third of the sessions to be live
        victim = cluster.nodes[0].process
        victim.kill()
        victim.wait()

    killer = asyncio.create_task(kill_a_node_half_way())
    try:
        ended = await asyncio.gather(*(limited(i) for i in range(SESSIONS)))
    except BaseException:
        for name in processes.children:  # what the services said, for whoever reads a failed run
            print(f"----- the last lines of {name}.log -----\n{processes.log(name)}")
        raise
    await killer
    assert len(set(ended)) == SESSIONS

    deadline = time.monotonic() + 60
    while True:
        records = [r for r in await closed_records(gateways[1], finance_token) if r["session_id"] in set(ended)]
        if len(records) >= SESSIONS or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)  # billing closes records from the session events
    per_session = Counter(record["session_id"] for record in records)
    assert set(per_session) == set(ended) and set(per_session.values()) == {1}
    # A record is closed in billing's database first and its event published by the outbox after the commit
    # (retrying while the killed node's streams move): every session's event is waited for, then counted.
    async def each_session_closed() -> Counter | None:
        events = await closed_events(cluster)
        return events if all(events[session] for session in ended) else None

    events = await eventually(each_session_closed, timeout=60, what="a billing.record.closed for every session")
    assert {session: events[session] for session in ended} == {session: 1 for session in ended}
    # Requests given up at the failover never became active: never billed. They are the exception, not the rule.
    assert all(events[session] == 0 for session in abandoned) and len(abandoned) <= SESSIONS // 10, abandoned
    for name, (process, _url) in processes.children.items():
        assert process.poll() is None, f"{name} died:\n{processes.log(name)}"
