"""Screen channel benchmark: frames per second, bytes per frame and CPU load of the agent's screen pipeline.

What is measured is what the agent does per frame (assist_agent.screen): capture with mss, compare with the last
frame tile by tile, compress the changed tiles. The screen is 1920x1080. The capture runs on a real X server
(Xvfb, when installed); its pixels are then replaced by a synthetic desktop with a typical amount of change:
a 960x540 region (a quarter of the screen, like a scrolling document) changes every frame, plus a 20x20 pointer.

    .venv/bin/python bench/screen.py [--seconds 10] [--fps 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

import numpy as np

from assist_agent import tiles

WIDTH, HEIGHT = 1920, 1080


def desktop(rng) -> np.ndarray:
    """A desktop-like picture: flat panels with text-like strokes (compresses like real screens, not like noise)."""
    picture = np.full((HEIGHT, WIDTH), 0xFFF0F0F0, dtype=np.uint32)
    picture[:40] = 0xFF2B3A55  # a top bar
    for y in range(60, HEIGHT - 20, 18):  # lines of "text"
        for x in range(20, WIDTH - 200, 120):
            if rng.random() < 0.7:
                picture[y:y + 10, x:x + int(rng.integers(30, 110))] = 0xFF202020
    return picture


def region_frame(rng, step: int) -> np.ndarray:
    """The changing region: text lines scrolled by `step` lines."""
    block = np.full((540, 960), 0xFFFFFFFF, dtype=np.uint32)
    for row, y in enumerate(range(0, 540, 18)):
        seed = row + step
        width = 200 + (seed * 7919) % 700
        block[y + 4:y + 14, 10:10 + width] = 0xFF101010 + (seed % 5) * 0x00101010
    return block


def start_xvfb():
    if shutil.which("Xvfb") is None:
        return None
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
                                "-nolisten", "tcp", "-noreset"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as announced:
        os.environ["DISPLAY"] = ":" + announced.readline().strip()
    return process


def run(seconds: float, max_fps: float | None) -> dict:
    import mss

    rng = np.random.default_rng(7)
    base = desktop(rng)
    previous = None
    frames = sent_bytes = tiles_sent = 0
    interval = 1.0 / max_fps if max_fps else 0.0
    with mss.MSS() as sct:
        monitor = sct.monitors[1]
        wall0, cpu0, x0 = time.monotonic(), time.process_time(), _xvfb_cpu()
        next_at = wall0
        while time.monotonic() - wall0 < seconds:
            shot = sct.grab(monitor)
            current = tiles.as_pixels(shot.raw, shot.width, shot.height).copy()  # the agent's own copy
            current[:] = base
            current[200:740, 480:1440] = region_frame(rng, frames)
            px, py = 300 + (frames * 13) % 1200, 900
            current[py:py + 20, px:px + 20] = 0xFF000000
            for message in tiles.encode_update(frames, current, previous):
                sent_bytes += len(message) + 1  # + the channel byte
                tiles_sent += message[0] == tiles.TILE_KIND
            previous = current
            frames += 1
            if interval:  # absolute deadlines, as the agent paces: a late frame does not push every later one
                next_at = max(next_at + interval, time.monotonic() - interval)
                time.sleep(max(0.0, next_at - time.monotonic()))
        wall, cpu, xcpu = time.monotonic() - wall0, time.process_time() - cpu0, _xvfb_cpu() - x0
    return {"frames": frames, "fps": frames / wall, "bytes_per_frame": sent_bytes / frames,
            "tiles_per_frame": tiles_sent / frames, "cores": cpu / wall, "ms_per_frame": cpu / frames * 1000,
            "x_cores": xcpu / wall}


XVFB_PID: int | None = None


def _xvfb_cpu() -> float:
    """CPU seconds of the X server so far: serving the capture is part of the cost of a frame."""
    if XVFB_PID is None:
        return 0.0
    with open(f"/proc/{XVFB_PID}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=15.0, help="the agent's frame rate bound (default 15)")
    args = parser.parse_args()
    global XVFB_PID
    xvfb = start_xvfb()
    XVFB_PID = xvfb.pid if xvfb is not None else None
    if xvfb is None and not os.environ.get("DISPLAY"):
        raise SystemExit("needs Xvfb (apt-get install -y xvfb) or a DISPLAY")
    try:
        for label, bound in (("unbounded", None), (f"bounded to {args.fps:g} fps", args.fps)):
            r = run(args.seconds, bound)
            print(f"{label:20} {r['fps']:6.1f} fps  {r['bytes_per_frame'] / 1024:7.1f} KiB/frame  "
                  f"{r['tiles_per_frame']:5.1f} tiles/frame  {r['ms_per_frame']:5.1f} ms CPU/frame  "
                  f"{r['cores']:4.2f} cores agent + {r['x_cores']:4.2f} X server  ({r['frames']} frames, {WIDTH}x{HEIGHT})")
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()


if __name__ == "__main__":
    main()
