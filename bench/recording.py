"""The relay's throughput with session recording on and off (issue #19), in one run.

Two systems run side by side, each as `make run` starts it on the embedded default (its own bundled nats-server
and SQLite files), one with RECORDING_ENABLED=true and one with false. The rounds alternate between them (on, off,
then off, on, ...), so that whatever else the machine does falls on both alike. Each system's sessions (agent ⇄
gateway relay ⇄ consultant, bench/relay.py's raw sockets) are paired once, before the rounds; a measurement pushes
binary frames on channel 1 (the terminal: what a recording decodes and keeps) through 1 or N of them, the far side
echoing them back (keystrokes, recorded too): MB/s counts both directions once (10⁶ bytes/s). On a busy machine
throughput swings from round to round; the CPU time the gateway (and the bundled nats-server) spent per MB relayed,
read from /proc around each measurement, swings less. Afterwards, what the recording system kept: its object
store's bytes (under a flood most frames are left out as gaps: recording never slows the relay).

    .venv/bin/python bench/recording.py            # 7 rounds, 1 and 20 sessions (docs/benchmarks.md)
    .venv/bin/python bench/recording.py --quick    # a smoke run (the test suite runs this)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import string
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import nats
from nats.js.errors import NotFoundError

from relay import Pair, assist_pairs, round_trips, throughput  # bench/relay.py, beside this script

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from public_api import login  # noqa: E402
from system import embedded_system  # noqa: E402

PASSWORD = "bench password 123"
SETTINGS = ("on", "off")


def terminal_text(size: int) -> bytes:
    """A channel-1 frame of `size` bytes that reads like terminal output: printable text, colours, line ends (what
    a recording decodes and keeps; random bytes would be decoded as replacement characters, 3 bytes each)."""
    rng = random.Random(size)
    words = ["".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(1, 12))) for _ in range(64)]
    out = bytearray(b"\x01")
    while len(out) < size:
        out += rng.choice(words).encode() + rng.choice([b" ", b" ", b" ", b"\r\n", b"\x1b[32m", b"\x1b[0m"])
    return bytes(out[:size])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(system, pairs: list[Pair], frame: int, volume: int, payload: str) -> tuple[float, ...]:
    """(MB/s, gateway CPU ms per MB, nats-server CPU ms per MB) of one measurement on sessions paired before."""
    gateway, nats_server = system.services["gateway-1"]["pid"], system.state["nats_pid"]
    sessions = len(pairs)
    before = cpu_seconds(gateway), cpu_seconds(nats_server)
    mbps = await throughput(pairs, frame, volume // sessions,
                            payload=terminal_text(frame) if payload == "text" else None)
    megabytes = (volume // sessions // frame) * frame * sessions / 1e6
    return (mbps, (cpu_seconds(gateway) - before[0]) * 1000 / megabytes,
            (cpu_seconds(nats_server) - before[1]) * 1000 / megabytes)


async def kept_bytes(nats_url: str) -> tuple[int, int]:
    """(bytes, messages) of the recordings' object store of a system; (0, 0) when it has none."""
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info("OBJ_RECORDINGS_STANDARD")
        return info.state.bytes, info.state.messages
    except NotFoundError:
        return 0, 0
    finally:
        await client.close()


async def settled_bytes(nats_url: str, patience: float = 30.0) -> tuple[int, int]:
    """`kept_bytes` once the parts that ended have written what they held (no change for a second)."""
    last, deadline = await kept_bytes(nats_url), time.monotonic() + patience
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = await kept_bytes(nats_url)
        if now == last:
            break
        last = now
    return last


async def run(systems: dict, args) -> int:
    """Each system's sessions are paired once and kept (a recording's part lasts as long as its consultant's
    connection: its start and end are not what a relay's throughput pays for); the rounds then alternate."""
    pairs: dict[tuple[str, int], list[Pair]] = {}
    for setting, system in systems.items():
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
            token = await login(client, "bench", PASSWORD)
        for n in args.sessions:
            pairs[setting, n] = await assist_pairs(system.gateway_url, n, token)
    echoes = [asyncio.create_task(pair.echo_forever()) for group in pairs.values() for pair in group]
    for group in pairs.values():
        await round_trips(group, 3)  # warm up
    figures = {key: [] for key in pairs}
    cpu = {key: [] for key in pairs}
    print(f"frames of {args.frame} B ({args.payload}), {args.volume / 1e6:.0f} MB per measurement, {args.rounds} "
          "rounds alternating recording on and off")
    for round_number in range(args.rounds):
        order = SETTINGS if round_number % 2 == 0 else tuple(reversed(SETTINGS))
        for n in args.sessions:
            for setting in order:
                mbps, gateway_ms, nats_ms = await measure(systems[setting], pairs[setting, n], args.frame,
                                                          args.volume, args.payload)
                figures[setting, n].append(mbps)
                cpu[setting, n].append((gateway_ms, nats_ms))
                print(f"  round {round_number + 1}  recording {setting:<3} {n:>4} sessions: {mbps:8.1f} MB/s  "
                      f"CPU per MB: gateway {gateway_ms:5.2f} ms, nats-server {nats_ms:5.2f} ms", flush=True)
    for group in pairs.values():
        for pair in group:
            await pair.close()
    for task in echoes:
        task.cancel()
    print("\n| recording | sessions | MB/s median | min | max | gateway CPU ms/MB | nats-server CPU ms/MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (setting, n), values in figures.items():
        gateway_ms = statistics.median(ms for ms, _ in cpu[setting, n])
        nats_ms = statistics.median(ms for _, ms in cpu[setting, n])
        print(f"| {setting} | {n} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} | "
              f"{gateway_ms:.2f} | {nats_ms:.2f} |")
    print("\n| sessions | on / off (medians) |")
    print("| --- | --- |")
    for n in args.sessions:
        ratio = statistics.median(figures["on", n]) / statistics.median(figures["off", n])
        print(f"| {n} | {ratio * 100:.1f} % |")
    on_bytes, on_objects = await settled_bytes(systems["on"].nats_url)
    off_bytes, _ = await kept_bytes(systems["off"].nats_url)
    print(f"\nrecorded: {on_bytes / 1e6:.1f} MB in {on_objects} object store messages (recording off: {off_bytes} B)")
    return 0 if on_bytes > 0 and off_bytes == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="measurements of each setting (alternating)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 20], help="concurrent sessions")
    parser.add_argument("--frame", type=int, default=16384, help="bytes per binary frame")
    parser.add_argument("--volume", type=int, default=64_000_000, help="bytes sent per measurement (all sessions)")
    parser.add_argument("--payload", choices=("text", "random"), default="text",
                        help="terminal-like text (default) or random bytes, as bench/relay.py sends")
    parser.add_argument("--loop-share", help="RECORDING_LOOP_SHARE of the recording system (default: the gateway's)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, 1 and 3 sessions, 2 MB")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.sessions, args.volume = 2, [1, 3], 2_000_000
    with ExitStack() as stack:
        systems = {}
        for setting in SETTINGS:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"assist-bench-rec-{setting}-")))
            env = {"RECORDING_ENABLED": "true" if setting == "on" else "false"}
            if args.loop_share and setting == "on":
                env["RECORDING_LOOP_SHARE"] = args.loop_share
            systems[setting] = stack.enter_context(embedded_system(
                data_dir, CODE_ATTEMPTS_PER_MINUTE="1000000", LOG_LEVEL="warning", **env))
            systems[setting].add_user("consultant", "bench", PASSWORD)
        return asyncio.run(run(systems, args))


if __name__ == "__main__":
    raise SystemExit(main())
