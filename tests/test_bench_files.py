"""The file-transfer benchmark runs (quick mode): a file through the relay to the real agent beside the relay's raw
throughput, and prints its table; the full run (100 MB) is `make bench`."""

from __future__ import annotations

import re

import pytest
from bench_run import bench_output

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_file_benchmark_prints_the_file_and_the_raw_relay_throughput_and_their_ratio():
    stdout = bench_output("files.py", "--quick", timeout=280)
    rows = dict(re.findall(r"^\| (raw relay|file to the agent) \| ([\d.]+) \|", stdout, re.M))
    assert set(rows) == {"raw relay", "file to the agent"}, stdout
    assert all(float(mbps) > 0 for mbps in rows.values())
    assert re.search(r"^file / raw: [\d.]+ \(target: at least 0\.50\)$", stdout, re.M), stdout
