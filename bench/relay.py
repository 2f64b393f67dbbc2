"""The relay's data plane beside websockify and a direct loopback connection, in one run.

Three paths carry the same payloads from the same client (Python `websockets`):
  direct     client ⇄ a WebSocket server on loopback (no relay: the physical limit of this client and machine)
  websockify client ⇄ websockify ⇄ a TCP server (the relay users would otherwise put in the middle)
  assist     agent ⇄ gateway relay ⇄ consultant (the whole system, started as `make run` starts it)
Throughput: the sender pushes binary frames, the far side counts bytes (MB/s = 10⁶ bytes/s), for 1 and for N
concurrent sessions. Latency: 1 KiB echo round trips (p50/p99); "added" is the p50 above the direct path.
Memory: the gateway's RSS growth per idle relay (agent and consultant connected, nothing sent).

    .venv/bin/python bench/relay.py            # 1 and 100 sessions, 1,000 idle relays (docs/benchmarks.md)
    .venv/bin/python bench/relay.py --quick    # a smoke run (the test suite runs this)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from assist_platform.natsserver import wait_for_port  # noqa: E402
from assist_platform.ports import free_port  # noqa: E402
from public_api import login, paired  # noqa: E402
from system import System, embedded_system  # noqa: E402

PASSWORD = "bench password 123"
WEBSOCKIFY = str(Path(sys.executable).parent / "websockify")


# --- the far ends: a TCP server behind websockify, a WebSocket server for the direct path ---------------------------

async def tcp_echo_server() -> asyncio.Server:
    async def serve(reader, writer):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def ws_echo_server():
    async def serve(ws):
        async for message in ws:
            await ws.send(message)
    return await websockets.serve(serve, "127.0.0.1", 0, max_size=None, compression=None)


# --- a pair of ends per path: `send` side and `far` side; the far side echoes ---------------------------------------

class Pair:
    def __init__(self, near, far=None) -> None:
        self.near, self.far = near, far  # far is None when the far end is a server that echoes by itself

    async def echo_forever(self) -> None:
        if self.far is None:
            return
        try:
            async for message in self.far:
                if isinstance(message, bytes):
                    await self.far.send(message)
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        for ws in (self.near, self.far):
            if ws is not None:
                await ws.close()


async def echo_pairs(url: str, n: int) -> list[Pair]:
    return [Pair(await websockets.connect(url, max_size=None, compression=None)) for _ in range(n)]


async def assist_pairs(gateway: str, n: int, token: str) -> list[Pair]:
    pairs = []
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        for _ in range(n):
            _request, agent, consultant = await paired(client, gateway, token)
            pairs.append(Pair(agent, consultant))
    return pairs


# --- measurements ---------------------------------------------------------------------------------------------------

async def _receive_bytes(ws, wanted: int) -> None:
    """Until `wanted` bytes came back: websockify re-frames what its TCP side reads, so frames are not counted."""
    got = 0
    while got < wanted:
        message = await ws.recv()
        if isinstance(message, bytes):
            got += len(message)


async def throughput(pairs: list[Pair], frame: int, total_per_pair: int, payload: bytes | None = None) -> float:
    """MB/s through all pairs at once: each near end sends, the echo comes back, both directions counted once.
    `payload`: the frame sent (`frame` bytes), else random bytes on channel 1."""
    payload = payload or b"\x01" + os.urandom(frame - 1)  # channel 1 (terminal): 4 and 5 need scopes of their own
    count = max(1, total_per_pair // frame)

    async def one(pair: Pair) -> None:
        async def send():
            for _ in range(count):
                await pair.near.send(payload)
        sender = asyncio.create_task(send())
        await _receive_bytes(pair.near, count * frame)
        await sender

    started = time.perf_counter()
    await asyncio.gather(*(one(pair) for pair in pairs))
    elapsed = time.perf_counter() - started
    return len(pairs) * count * frame / elapsed / 1e6


async def round_trips(pairs: list[Pair], samples: int) -> list[float]:
    payload = b"\x01" + os.urandom(1023)

    async def one(pair: Pair) -> list[float]:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            await pair.near.send(payload)
            await _receive_bytes(pair.near, len(payload))
            times.append((time.perf_counter() - started) * 1000)
        return times

    results = await asyncio.gather(*(one(pair) for pair in pairs))
    return sorted(t for times in results for t in times)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def measure_path(name: str, make_pairs, sessions: list[int], frame: int, volume: int, samples: int) -> dict:
    figures = {}
    for n in sessions:
        pairs = await make_pairs(n)
        echoes = [asyncio.create_task(pair.echo_forever()) for pair in pairs]
        await round_trips(pairs, 3)  # warm up
        rtt = await round_trips(pairs, samples)
        mbps = await throughput(pairs, frame, volume // n)
        figures[n] = {"mbps": mbps, "p50": statistics.median(rtt), "p99": pct(rtt, 99)}
        for pair in pairs:
            await pair.close()
        for task in echoes:
            task.cancel()
        print(f"  {name:<10} {n:>4} sessions: {mbps:8.1f} MB/s  rtt p50 {figures[n]['p50']:6.2f} ms  "
              f"p99 {figures[n]['p99']:6.2f} ms", flush=True)
    return figures


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def idle_memory(system: System, token: str, n: int) -> float:
    pid = system.services["gateway-1"]["pid"] if "gateway-1" in system.services else \
        next(s["pid"] for name, s in system.services.items() if name.startswith("gateway"))
    before = rss_kib(pid)
    pairs = await assist_pairs(system.gateway_url, n, token)
    await asyncio.sleep(2.0)  # let the gateway settle (lease renewals, garbage) before reading its memory
    after = rss_kib(pid)
    for pair in pairs:
        await pair.close()
    return (after - before) / n


async def run(system: System, args) -> None:
    sessions = [1, args.sessions]
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        token = await login(client, "bench", PASSWORD)
    direct = await ws_echo_server()
    direct_url = f"ws://127.0.0.1:{direct.sockets[0].getsockname()[1]}"
    tcp = await tcp_echo_server()
    wsfy_port = free_port()
    wsfy = subprocess.Popen([WEBSOCKIFY, f"127.0.0.1:{wsfy_port}", f"127.0.0.1:{tcp.sockets[0].getsockname()[1]}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_for_port, wsfy_port)
        print(f"frames of {args.frame} B, {args.volume / 1e6:.0f} MB per run, 1 KiB echo round trips")
        results = {
            "direct": await measure_path("direct", lambda n: echo_pairs(direct_url, n), sessions, args.frame,
                                         args.volume, args.samples),
            "websockify": await measure_path("websockify", lambda n: echo_pairs(f"ws://127.0.0.1:{wsfy_port}", n),
                                             sessions, args.frame, args.volume, args.samples),
            "assist": await measure_path("assist", lambda n: assist_pairs(system.gateway_url, n, token), sessions,
                                         args.frame, args.volume, args.samples),
        }
    finally:
        wsfy.terminate()
        wsfy.wait()
        direct.close()
        tcp.close()
    print("\n| path | sessions | MB/s | RTT p50 | RTT p99 | added p50 over direct |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, figures in results.items():
        for n, f in figures.items():
            added = f["p50"] - results["direct"][n]["p50"]
            print(f"| {name} | {n} | {f['mbps']:.1f} | {f['p50']:.2f} ms | {f['p99']:.2f} ms | {added:+.2f} ms |")
    per_relay = await idle_memory(system, token, args.idle)
    print(f"\nidle relays: {args.idle}, gateway RSS growth per idle relay: {per_relay:.1f} KiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100, help="concurrent sessions of the second run")
    parser.add_argument("--frame", type=int, default=16384, help="bytes per binary frame")
    parser.add_argument("--volume", type=int, default=64_000_000, help="bytes sent per throughput run (all sessions)")
    parser.add_argument("--samples", type=int, default=200, help="round trips per session")
    parser.add_argument("--idle", type=int, default=1000, help="idle relays for the memory figure")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 sessions, 2 MB, 20 idle relays")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.volume, args.samples, args.idle = 5, 2_000_000, 20, 20
    with tempfile.TemporaryDirectory(prefix="assist-bench-") as tmp:
        data_dir = Path(tmp)
        with embedded_system(data_dir, CODE_ATTEMPTS_PER_MINUTE="1000000", LOG_LEVEL="warning") as system:
            system.add_user("consultant", "bench", PASSWORD)
            asyncio.run(run(system, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
