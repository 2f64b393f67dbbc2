"""The billing benchmark runs (`bench/billing.py --quick`) and prints its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(300)
def test_the_billing_bench_runs_quickly_and_reports_closes_per_second_and_p99():
    env_free = {key: value for key, value in os.environ.items() if key != "NATS_URL"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "billing.py"), "--quick"], cwd=REPO, env=env_free,
        capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [result["phase"] for result in results] == ["burst", "steady"]
    assert all(result["closes_per_s"] > 0 and result["p99_ms"] > 0 for result in results)
