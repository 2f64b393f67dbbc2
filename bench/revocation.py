"""How fast a customer's terminate cuts access: "terminate sent → consultant socket closed", with many live relays.

Starts the whole system as `make run` does (a temporary data directory, free ports), opens 2×N relays that all
carry traffic, then terminates N of them one after another, so at least N relays are active at every terminate.
Prints p50, p99 and max of the cut latency and of the terminate's answer. With `--withdraw`, the customer takes
`control` back instead (issue #16): "withdrawal sent → consultant told" (the gateway's `scopes` message, sent once
its endpoint is narrowed) and the withdrawal's answer.

    .venv/bin/python bench/revocation.py              # N = 100 (the figure in docs/benchmarks.md)
    .venv/bin/python bench/revocation.py --withdraw   # the same for taking `control` back
    .venv/bin/python bench/revocation.py --quick      # N = 5, a smoke run (the test suite runs this)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from public_api import bearer, login, paired  # noqa: E402
from system import System, port_block  # noqa: E402

PASSWORD = "bench password 123"
CONSULTANTS = 10


class Relay:
    def __init__(self, request, agent, consultant) -> None:
        self.request = request
        self.agent = agent
        self.consultant = consultant
        self.closed_at: float | None = None
        self.closed = asyncio.Event()
        self.narrowed_at: float | None = None  # when the gateway told the consultant the consent's scopes shrank
        self.narrowed = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    def start_traffic(self, interval: float) -> None:
        self.tasks.append(asyncio.create_task(self._agent_sends(interval)))
        self.tasks.append(asyncio.create_task(self._consultant_reads()))

    async def _agent_sends(self, interval: float) -> None:
        frame = b"\x01" + os.urandom(1023)  # channel 1 (terminal): 4 and 5 need scopes of their own
        try:
            while True:
                await self.agent.send(frame)
                await asyncio.sleep(interval)
        except Exception:
            return

    async def _consultant_reads(self) -> None:
        try:
            while True:
                message = await self.consultant.recv()
                if isinstance(message, str) and json.loads(message).get("type") == "scopes":
                    self.narrowed_at = time.perf_counter()
                    self.narrowed.set()
        except Exception:
            self.closed_at = time.perf_counter()
            self.closed.set()


async def open_relay(gateway: str, client: httpx.AsyncClient, token: str, username: str) -> Relay:
    return Relay(*await paired(client, gateway, token))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def measure(system: System, n: int, interval: float, consultants: int,
                  withdraw: bool = False) -> dict[str, list[float]]:
    gateway = system.gateway_urls[0]
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        tokens = []
        for i in range(consultants):
            tokens.append((await login(client, f"bench{i}", PASSWORD), f"bench{i}"))
        relays = []
        for i in range(2 * n):
            token, username = tokens[i % consultants]
            relays.append(await open_relay(gateway, client, token, username))
        for relay in relays:
            relay.start_traffic(interval)
        await asyncio.sleep(1.0)  # let every relay carry traffic before measuring
        cut, answered = [], []
        for relay in relays[:n]:
            session = relay.request.session_id
            sent = time.perf_counter()
            if withdraw:
                response = await client.delete(f"/api/v1/sessions/{session}/scopes/control",
                                               headers=bearer(relay.request.customer_token))
            else:
                response = await client.post(f"/api/v1/sessions/{session}/terminate",
                                             headers=bearer(relay.request.customer_token))
            answered_at = time.perf_counter()
            assert response.status_code == 200, response.text
            done = relay.narrowed if withdraw else relay.closed
            await asyncio.wait_for(done.wait(), 10)
            cut.append(((relay.narrowed_at if withdraw else relay.closed_at) - sent) * 1000)
            answered.append((answered_at - sent) * 1000)
        for relay in relays:
            for task in relay.tasks:
                task.cancel()
            await relay.agent.close()
            await relay.consultant.close()
    return {"cut": cut, "answered": answered}


def report(name: str, values: list[float]) -> str:
    return (f"{name:<38} n={len(values):<4} p50={statistics.median(values):7.2f} ms  "
            f"p99={percentile(values, 99):7.2f} ms  max={max(values):7.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relays", type=int, default=100, help="terminates measured (2× as many relays are opened)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between each agent's 1 KiB frames")
    parser.add_argument("--quick", action="store_true", help="a smoke run with 5 relays")
    parser.add_argument("--withdraw", action="store_true", help="take `control` back instead of terminating")
    args = parser.parse_args()
    n = 5 if args.quick else args.relays
    # Each account is an `assist user add` process (a few seconds): the smoke run makes do with two.
    consultants = 2 if args.quick else CONSULTANTS
    with tempfile.TemporaryDirectory(prefix="assist-bench-") as tmp:
        data_dir = Path(tmp)
        env = {**os.environ, "ASSIST_DATA_DIR": str(data_dir), "ASSIST_PORT": str(port_block(1)),
               "ASSIST_GATEWAYS": "1",
               # Every agent of the bench comes from 127.0.0.1: lift the per-address session-code throttle.
               "CODE_ATTEMPTS_PER_MINUTE": "1000000"}
        env.pop("NATS_URL", None)  # the embedded default: its own nats-server and SQLite files
        env.pop("DATABASE_URL", None)
        system = System(env=env, data_dir=data_dir).start()
        try:
            for i in range(consultants):
                system.add_user("consultant", f"bench{i}", PASSWORD)
            figures = asyncio.run(measure(system, n, args.interval, consultants, withdraw=args.withdraw))
        finally:
            system.stop()
    print(f"revocation with {2 * n} relays open (≥ {n} active at every terminate), "
          f"agents sending 1 KiB every {args.interval * 1000:.0f} ms")
    if args.withdraw:
        print(report("withdrawal sent → consultant told", figures["cut"]))
        print(report("withdrawal sent → 200 received", figures["answered"]))
    else:
        print(report("terminate sent → consultant closed", figures["cut"]))
        print(report("terminate sent → 200 received", figures["answered"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
