"""The screen benchmark runs (a second per mode) and prints frames per second and bytes per frame; the full run is
`make bench`. It needs Xvfb, like the agent's X tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "screen.py"


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install -y xvfb)")
def test_screen_benchmark_prints_frames_per_second_and_bytes_per_frame():
    result = subprocess.run([sys.executable, str(BENCH), "--seconds", "1"], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    bounded = re.search(r"bounded to 15 fps\s+([\d.]+) fps\s+([\d.]+) KiB/frame.*\(\d+ frames, 1920x1080\)",
                        result.stdout)
    assert bounded, result.stdout
    fps, kib = map(float, bounded.groups())
    assert fps > 0 and kib > 0
