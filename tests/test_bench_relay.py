"""The relay benchmark runs (quick mode) beside websockify and the direct path, and prints its table; the full run
is `make bench`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BENCH = Path(__file__).resolve().parents[1] / "bench" / "relay.py"


def test_relay_benchmark_prints_throughput_latency_and_idle_memory_for_each_path():
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=280,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^\| (direct|websockify|assist) \| (\d+) \| ([\d.]+) \| ([\d.]+) ms \|", result.stdout, re.M)
    assert {(path, sessions) for path, sessions, _, _ in rows} == \
        {(path, n) for path in ("direct", "websockify", "assist") for n in ("1", "5")}, result.stdout
    assert all(float(mbps) > 0 and float(p50) > 0 for _, _, mbps, p50 in rows)
    assert re.search(r"gateway RSS growth per idle relay: -?[\d.]+ KiB", result.stdout), result.stdout
