"""A file through the relay to the real agent, beside the relay's raw throughput, in one run (issue #17).

Two paths carry the same bytes from the consultant's side (Python `websockets`) through one gateway:
  raw    consultant ⇄ gateway relay ⇄ a bare agent socket that counts the bytes (64 KiB binary frames, the relay's
         own limit for this client and machine)
  file   consultant ⇄ gateway relay ⇄ the real `assist agent` process: a file offered (name, size, SHA-256), saved by
         the customer's A, sent in 64 KiB chunks (channel 5, each checked by the gateway against its offer), written
         to a hidden temporary, hashed as it is written, and named once its SHA-256 is the offer's (`file.done`)
MB/s = 10⁶ bytes/s, from the first frame sent to the last byte counted (raw) or to `file.done` (file). The target
(issue #17) is a file at least half as fast as the raw relay in the same run.

    .venv/bin/python bench/files.py            # 100 MB, three rounds (docs/benchmarks.md)
    .venv/bin/python bench/files.py --quick    # a smoke run: 5 MB, one round (the test suite runs this)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from agent_flow import AgentProcess  # noqa: E402
from public_api import bearer, connect_consultant, login, next_control, paired, request_help  # noqa: E402
from system import System, embedded_system  # noqa: E402

from assist_agent import console, framing  # noqa: E402
from assist_agent.filetransfer import wire  # noqa: E402
from assist_agent.filetransfer.outgoing import Outgoing  # noqa: E402

PASSWORD = "bench password 123"


async def raw_mbps(gateway: str, token: str, size: int) -> float:
    """`size` bytes of 64 KiB terminal frames from the consultant to a bare agent socket that counts them."""
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        _request, agent, consultant = await paired(client, gateway, token)
    payload = framing.encode(framing.TERMINAL, os.urandom(wire.CHUNK_BYTES))
    count = size // wire.CHUNK_BYTES

    async def receive() -> None:
        got = 0
        while got < count * wire.CHUNK_BYTES:
            message = await agent.recv()
            if isinstance(message, bytes) and message[0] == framing.TERMINAL:
                got += len(message) - 1

    started = time.perf_counter()
    receiver = asyncio.create_task(receive())
    for _ in range(count):
        await consultant.send(payload)
    await receiver
    elapsed = time.perf_counter() - started
    await agent.close()
    await consultant.close()
    return count * wire.CHUNK_BYTES / elapsed / 1e6


async def file_mbps(gateway: str, token: str, source: Path, work: Path, index: int) -> float:
    """The file from the consultant to the real agent, saved by the customer's A; its hash checked on disk."""
    home = work / f"home-{index}"
    (home / "Downloads").mkdir(parents=True)
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        request = await request_help(client, scopes=("view", "files"))
        agent = AgentProcess(gateway=gateway, code=request.session_code, log_dir=work, lang="en", verbose=False,
                             env={**os.environ, "HOME": str(home)})
        try:
            await agent.wait_for_log("[waiting for the consultant]", timeout=30)
            claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
            assert claimed.status_code == 200, claimed.text
            ws = await connect_consultant(gateway, request.session_id, token)
            await next_control(ws, "peer_joined")
            await ws.send(console.hello())
            outgoing = Outgoing.of(source)
            await ws.send(outgoing.offer_frame())
            await agent.wait_for_log("A: save to", timeout=30)
            agent.press(b"a")
            answer = await _files_message(ws, "file.accept")
            outgoing.accept(answer["offset"])
            started = time.perf_counter()
            while (frame := outgoing.next_frame()) is not None:
                await ws.send(frame)
            done = await _files_message(ws, "file.done", timeout=300)
            elapsed = time.perf_counter() - started
            assert done["sha256"] == outgoing.sha256, done
            saved = home / "Downloads" / source.name
            assert hashlib.sha256(saved.read_bytes()).hexdigest() == outgoing.sha256
            outgoing.close()
            await ws.close()
            return outgoing.size / elapsed / 1e6
        finally:
            agent.stop()


async def _files_message(ws, kind: str, timeout: float = 60) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes) and message[0] == framing.FILES:
                item = wire.decode(message[1:])
                if isinstance(item, dict) and item["type"] == kind:
                    return item


async def run(system: System, args, work: Path) -> None:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        token = await login(client, "bench", PASSWORD)
    source = work / "payload.bin"
    with open(source, "wb") as out:
        for _ in range(args.size // (1 << 20)):
            out.write(os.urandom(1 << 20))
    size = source.stat().st_size
    print(f"{size / 1e6:.0f} MB through one gateway, {args.rounds} round(s), 64 KiB frames")
    raw, files = [], []
    for index in range(args.rounds):  # interleaved: both paths see the same machine load
        raw.append(await raw_mbps(system.gateway_url, token, size))
        files.append(await file_mbps(system.gateway_url, token, source, work, index))
        print(f"  round {index + 1}: raw {raw[-1]:7.1f} MB/s  file {files[-1]:7.1f} MB/s", flush=True)
    raw_mid, file_mid = statistics.median(raw), statistics.median(files)
    print("\n| path | MB/s (median) | MB/s (each round) |")
    print("| --- | --- | --- |")
    print(f"| raw relay | {raw_mid:.1f} | {', '.join(f'{value:.1f}' for value in raw)} |")
    print(f"| file to the agent | {file_mid:.1f} | {', '.join(f'{value:.1f}' for value in files)} |")
    print(f"\nfile / raw: {file_mid / raw_mid:.2f} (target: at least 0.50)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100 * (1 << 20), help="bytes of the file (a whole MiB count)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each path, interleaved")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 MiB, one round")
    args = parser.parse_args()
    if args.quick:
        args.size, args.rounds = 5 * (1 << 20), 1
    with tempfile.TemporaryDirectory(prefix="assist-bench-files-") as tmp:
        data_dir = Path(tmp) / "data"
        with embedded_system(data_dir, CODE_ATTEMPTS_PER_MINUTE="1000000", LOG_LEVEL="warning") as system:
            system.add_user("consultant", "bench", PASSWORD)
            asyncio.run(run(system, args, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
