"""The customer's browser share (issue #18): frames per second, bytes per frame and the page's CPU at 1280×720.

Starts the whole system as `make run` does (a temporary data directory, free ports), asks for help through the API,
claims the request with a consultant whose socket (a plain client) counts what reaches it, and opens the request
page in Debian's chromium, whose fake capture (`--use-fake-ui-for-media-stream --use-fake-device-for-media-stream`)
answers the browser's picker with a moving synthetic picture of 1280×720 (a green field, a pacman-like circle
sweeping round and a frame counter). `--picture desktop` answers it instead with a canvas of the same size drawn like
a desktop (lines of text everywhere, a quarter of the screen scrolling a line every picture, as bench/screen.py does
for the agent): text compresses worse than flat colour. The page shares as a customer's would
(static/screen_share.js: changed 64×64 tiles, zlib RGB, at most 5 pictures a second); for `--seconds` the
bench counts the frames and bytes the consultant receives and reads the page's CPU from the Chrome DevTools
Protocol (`Performance.getMetrics`: the renderer's main thread busy time, `TaskDuration`, and the renderer process's
CPU time, `ProcessTime`, each over the wall time).

    .venv/bin/python bench/share.py                # 20 s (the figure in docs/benchmarks.md)
    .venv/bin/python bench/share.py --picture desktop   # the desktop-like picture
    .venv/bin/python bench/share.py --quick        # 3 s, a smoke run (the test suite runs this)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from browser import CHROMIUM, CHROMIUM_ARGS, FAKE_CAPTURE, require_chromium  # noqa: E402
from public_api import bearer, connect_consultant, login, next_control, request_help  # noqa: E402
from system import System, port_block  # noqa: E402

PASSWORD = "bench password 123"
WIDTH, HEIGHT = 1280, 720
STORE = "assist.customer.session"
# A desktop-like picture for the browser's picker to answer with: text on a light panel, a title bar, and a quarter
# of the screen (640×360) scrolling its lines of text by one line every picture.
DESKTOP_PICTURE = """(() => {
  navigator.mediaDevices.getDisplayMedia = async () => {
    const canvas = document.createElement("canvas");
    canvas.width = %d; canvas.height = %d;
    const g = canvas.getContext("2d");
    const words = "the quick brown fox jumps over a lazy dog invoice printer driver settings network".split(" ");
    const line = (n) => Array.from({ length: 6 + (n * 7) %% 9 },
                                    (_, i) => words[(n * 31 + i * 17) %% words.length]).join(" ");
    let step = 0;
    const draw = () => {
      g.fillStyle = "#f0f0f0"; g.fillRect(0, 0, canvas.width, canvas.height);
      g.fillStyle = "#2b3a55"; g.fillRect(0, 0, canvas.width, 28);
      g.font = "13px sans-serif"; g.fillStyle = "#202020";
      for (let y = 46, n = 0; y < canvas.height - 8; y += 18, n += 1) {
        g.fillText(line(n), 12, y); g.fillText(line(n + 50), 660, y);
      }
      g.fillStyle = "#ffffff"; g.fillRect(320, 180, 640, 360); g.fillStyle = "#101010";
      for (let row = 0; row < 19; row += 1) g.fillText(line(row + step), 332, 198 + row * 18);
      step += 1;
    };
    draw();
    setInterval(draw, 200);
    return canvas.captureStream(5);
  };
})()""" % (WIDTH, HEIGHT)


def _metrics(answer: dict) -> dict[str, float]:
    return {item["name"]: item["value"] for item in answer["metrics"]}


async def measure(system: System, seconds: float, picture: str) -> dict:
    from playwright.async_api import async_playwright

    base = system.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=15) as client:
        request = await request_help(client)
        token = await login(client, "benchshare", PASSWORD)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    consultant = await connect_consultant(base, request.session_id, token)
    await next_control(consultant, "attached")
    received = {"frames": 0, "bytes": 0, "tiles": 0}
    sizes: list[int] = []  # bytes of each picture, the first (whole) one included

    async def count() -> None:
        try:
            while True:
                message = await consultant.recv()
                if isinstance(message, bytes):
                    received["bytes"] += len(message)
                    received["frames"] += message[1] == 0
                    received["tiles"] += message[1] == 1
                    if message[1] == 0:
                        sizes.append(0)
                    sizes[-1] += len(message)
        except Exception:
            return

    counting = asyncio.create_task(count())
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_CAPTURE])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        if picture == "desktop":
            await page.add_init_script(DESKTOP_PICTURE)
        saved = {"session_id": request.session_id, "session_code": request.session_code,
                 "customer_token": request.customer_token,
                 "service": {"code": "consultation", "unitSeconds": 900, "unitPrice": 30, "minimumUnits": 1}}
        await page.goto(base + "/")
        await page.evaluate(f"(saved) => localStorage.setItem('{STORE}', JSON.stringify(saved))", saved)
        await page.goto(base + "/")
        await page.wait_for_selector("#share-screen", state="visible", timeout=30000)
        await page.click("#share-screen")
        await page.wait_for_selector("#share-box[data-state='sharing']", timeout=30000)
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Performance.enable")
        deadline = time.monotonic() + 30
        while received["frames"] < 2:  # past the first, whole, picture: the steady state is measured
            if time.monotonic() > deadline:
                raise RuntimeError("no picture of the share reached the consultant in 30 s")
            await asyncio.sleep(0.05)
        size = await page.evaluate("() => { const s = window.AssistScreenShare.current.stats;"
                                   " return [s.width, s.height, s.skipped]; }")
        received.update(frames=0, bytes=0, tiles=0)
        before, wall0 = _metrics(await cdp.send("Performance.getMetrics")), time.monotonic()
        await asyncio.sleep(seconds)  # the measurement's window: what flows meanwhile is counted
        after, wall = _metrics(await cdp.send("Performance.getMetrics")), time.monotonic() - wall0
        frames, sent_bytes, tiles = received["frames"], received["bytes"], received["tiles"]
        stats = await page.evaluate("() => window.AssistScreenShare.current.stats")
        await browser.close()
    counting.cancel()
    await consultant.close()
    return {
        "size": f"{size[0]}x{size[1]}", "wall": wall, "frames": frames, "fps": frames / wall,
        "kib_per_frame": sent_bytes / max(frames, 1) / 1024, "tiles_per_frame": tiles / max(frames, 1),
        "kib_per_second": sent_bytes / wall / 1024,
        "main_thread": (after["TaskDuration"] - before["TaskDuration"]) / wall * 100,
        "process_cpu": (after.get("ProcessTime", 0) - before.get("ProcessTime", 0)) / wall * 100,
        "encode_ms_per_frame": stats["encodeMs"] / max(stats["frames"], 1), "skipped": stats["skipped"] - size[2],
        "whole_kib": sizes[0] / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the share is measured")
    parser.add_argument("--quick", action="store_true", help="a smoke run of 3 s")
    parser.add_argument("--picture", choices=("fake", "desktop"), default="fake",
                        help="chromium's fake capture, or a desktop-like canvas of the same size")
    args = parser.parse_args()
    require_chromium()
    seconds = 3.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory(prefix="assist-bench-") as tmp:
        data_dir = Path(tmp)
        env = {**os.environ, "ASSIST_DATA_DIR": str(data_dir), "ASSIST_PORT": str(port_block(1)),
               "ASSIST_GATEWAYS": "1"}
        env.pop("NATS_URL", None)  # the embedded default: its own nats-server and SQLite files
        env.pop("DATABASE_URL", None)
        system = System(env=env, data_dir=data_dir).start()
        try:
            system.add_user("consultant", "benchshare", PASSWORD)
            figures = asyncio.run(measure(system, seconds, args.picture))
        finally:
            system.stop()
    what = "chromium's fake capture" if args.picture == "fake" else "a desktop-like picture"
    print(f"browser share of {what} at {figures['size']}, {figures['wall']:.1f} s")
    print(f"{'received by the consultant':<30} {figures['fps']:6.2f} fps  {figures['kib_per_frame']:8.1f} KiB/frame  "
          f"{figures['tiles_per_frame']:6.1f} tiles/frame  {figures['kib_per_second']:8.1f} KiB/s "
          f"({figures['frames']} frames; the first, whole, picture {figures['whole_kib']:.1f} KiB)")
    print(f"{'the page':<30} main thread {figures['main_thread']:5.1f} %  renderer CPU {figures['process_cpu']:5.1f} %"
          f"  encoding {figures['encode_ms_per_frame']:6.1f} ms/frame  skipped {figures['skipped']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
