"""The file-transfer benchmark runs (quick mode): a file through the relay to the real agent beside the relay's raw
throughput, and prints its table; the full run (100 MB) is `make bench`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BENCH = Path(__file__).resolve().parents[1] / "bench" / "files.py"


def test_file_benchmark_prints_the_file_and_the_raw_relay_throughput_and_their_ratio():
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=280,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = dict(re.findall(r"^\| (raw relay|file to the agent) \| ([\d.]+) \|", result.stdout, re.M))
    assert set(rows) == {"raw relay", "file to the agent"}, result.stdout
    assert all(float(mbps) > 0 for mbps in rows.values())
    assert re.search(r"^file / raw: [\d.]+ \(target: at least 0\.50\)$", result.stdout, re.M), result.stdout
