"""The browser share benchmark runs (quick mode, issue #18) and prints frames per second, bytes per frame and the
page's CPU; the full run is `.venv/bin/python bench/share.py` (docs/benchmarks.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser import require_chromium

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[1] / "bench" / "share.py"


def test_share_benchmark_prints_fps_bytes_per_frame_and_the_pages_cpu():
    require_chromium()
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fake capture at 1280x720" in result.stdout, result.stdout
    received = re.search(r"received by the consultant\s+([\d.]+) fps\s+([\d.]+) KiB/frame", result.stdout)
    page = re.search(r"the page\s+main thread\s+([\d.]+) %\s+renderer CPU\s+([\d.]+) %", result.stdout)
    assert received and page, result.stdout
    fps, kib = map(float, received.groups())
    assert 0 < fps <= 5.5 and kib > 0  # bounded: at most 5 pictures a second
