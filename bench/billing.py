"""How many session closes per second the billing pipeline sustains, end to end, and at what latency.

    .venv/bin/python bench/billing.py            # full run (docs/benchmarks.md records its figures)
    .venv/bin/python bench/billing.py --quick    # a short smoke run (the test suite runs this)

Starts its own nats-server and a billing process (`assist service billing`, SQLite in a temporary directory, or
PostgreSQL when DATABASE_URL is set). For each session it publishes `session.started` first (not timed), then
times `session.ended` published → `billing.record.closed` received: once in a burst (all at once: the most the
pipeline can take) and once at a steady offered rate (the latency a finance system sees in normal operation).
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from assist_contract.billing import RECORD_CLOSED, RECORD_OPENED
from assist_contract.session import ENDED, STARTED
from assist_contract.streams import STREAMS
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.messaging import connect_nats, ensure_streams
from assist_platform.natsserver import NatsServerProcess
from assist_platform.testing import ServiceProcess

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CUSTOMER = {"name": "Иван Петров", "email": "ivan@example.bg"}


def started(session_id: str) -> CloudEvent:
    return STARTED.new(source="bench", subject=session_id, data={
        "session_id": session_id, "service_type": "consultation", "customer": CUSTOMER, "consultant": "maria",
        "at": rfc3339(T0)})


def ended(session_id: str) -> CloudEvent:
    return ENDED.new(source="bench", subject=session_id, data={
        "session_id": session_id, "ended_at": rfc3339(T0 + timedelta(minutes=17)), "ended_by": "customer",
        "end_reason": "customer_terminated", "started_at": rfc3339(T0), "consultant": "maria",
        "service_type": "consultation", "customer": CUSTOMER})


class Watcher:
    """Core NATS subscriptions on the BILLING subjects: when each session's record opened and closed."""

    def __init__(self) -> None:
        self.opened: set[str] = set()
        self.closed_at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def on_message(self, msg) -> None:
        now = time.perf_counter()
        session_id = json.loads(msg.data)["subject"]
        if msg.subject == RECORD_OPENED.subject:
            self.opened.add(session_id)
        else:
            self.closed_at.setdefault(session_id, now)
        self.changed.set()

    async def until(self, done, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the billing pipeline did not keep up")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                pass


async def publish(js, event: CloudEvent) -> None:
    await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": event.id})


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), or None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_phase(js, watcher: Watcher, *, count: int, rate: float, pid: int) -> dict:
    """Open `count` records, then close them at `rate` per second (0: all at once); the figures of the closes,
    and the billing process's CPU time per close (the figure that does not depend on what else the machine runs)."""
    sessions = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for session_id in sessions:
        await publish(js, started(session_id))
    await watcher.until(lambda: all(s in watcher.opened for s in sessions), timeout=120)

    sent_at: dict[str, float] = {}
    cpu_before = cpu_seconds(pid)
    begin = time.perf_counter()
    for index, session_id in enumerate(sessions):
        if rate:
            delay = begin + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_at[session_id] = time.perf_counter()
        await publish(js, ended(session_id))
    await watcher.until(lambda: all(s in watcher.closed_at for s in sessions), timeout=120)
    cpu_after = cpu_seconds(pid)
    latencies = sorted((watcher.closed_at[s] - sent_at[s]) * 1000 for s in sessions)
    elapsed = max(watcher.closed_at[s] for s in sessions) - begin
    return {
        "count": count,
        "offered_per_s": rate or None,
        "closes_per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "max_ms": round(latencies[-1], 1),
        "cpu_ms_per_close": None if cpu_before is None else round((cpu_after - cpu_before) * 1000 / count, 3),
    }


def start_billing(*, nats_url: str, data_dir: Path) -> ServiceProcess:
    env = {**os.environ, "NATS_URL": nats_url, "ASSIST_DATA_DIR": str(data_dir), "LOG_LEVEL": "warning",
           "DATABASE_SCHEMA_PREFIX": os.environ.get("DATABASE_SCHEMA_PREFIX", f"bench{uuid.uuid4().hex[:6]}_")}
    billing = ServiceProcess("billing", env=env, log_path=data_dir / "billing.log", cwd=REPO)
    billing.migrate()  # an init step, as in `assist dev`; the service itself never migrates
    return billing.start()


async def bench(*, count: int, rate: float, data_dir: Path) -> list[dict]:
    nats = NatsServerProcess(data_dir / "jetstream").start()
    billing = start_billing(nats_url=nats.url, data_dir=data_dir)
    try:
        nc = await connect_nats(nats.url, name="bench", attempts=10)
        js = nc.jetstream()
        await ensure_streams(js, STREAMS)
        watcher = Watcher()
        await nc.subscribe(RECORD_OPENED.subject, cb=watcher.on_message)
        await nc.subscribe(RECORD_CLOSED.subject, cb=watcher.on_message)
        await billing.wait_ready_async()
        # warm-up: connections, caches, JIT of the DB
        await run_phase(js, watcher, count=min(50, count), rate=0, pid=billing.pid)
        results = [
            {"phase": "burst", **await run_phase(js, watcher, count=count, rate=0, pid=billing.pid)},
            {"phase": "steady", **await run_phase(js, watcher, count=count, rate=rate, pid=billing.pid)},
        ]
        await nc.drain()
        return results
    finally:
        billing.stop()
        nats.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--count", type=int, default=3000, help="sessions per phase")
    parser.add_argument("--rate", type=float, default=500.0, help="offered closes per second in the steady phase")
    args = parser.parse_args(argv)
    count, rate = (200, 200.0) if args.quick else (args.count, args.rate)
    backend = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        results = asyncio.run(bench(count=count, rate=rate, data_dir=Path(tmp)))
    print(f"billing pipeline (session.ended published -> billing.record.closed received), {backend}, {os.cpu_count()} CPUs")
    for result in results:
        offered = f"offered {result['offered_per_s']:.0f}/s" if result["offered_per_s"] else "all at once"
        print(f"  {result['phase']:<6} {result['count']} closes, {offered}: {result['closes_per_s']} closes/s, "
              f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms, "
              f"billing CPU {result['cpu_ms_per_close']} ms/close")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
