"""The relay benchmark runs (quick mode) beside websockify and the direct path, and prints its table; the full run
is `make bench`."""

from __future__ import annotations

import re

import pytest
from bench_run import bench_output

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_relay_benchmark_prints_throughput_latency_and_idle_memory_for_each_path():
    stdout = bench_output("relay.py", "--quick", timeout=280)
    rows = re.findall(r"^\| (direct|websockify|assist) \| (\d+) \| ([\d.]+) \| ([\d.]+) ms \|", stdout, re.M)
    assert {(path, sessions) for path, sessions, _, _ in rows} == \
        {(path, n) for path in ("direct", "websockify", "assist") for n in ("1", "5")}, stdout
    assert all(float(mbps) > 0 and float(p50) > 0 for _, _, mbps, p50 in rows)
    assert re.search(r"gateway RSS growth per idle relay: -?[\d.]+ KiB", stdout), stdout
