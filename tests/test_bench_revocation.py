"""The revocation benchmark runs (quick mode) and prints its figures; the full run is `make bench`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[1] / "bench" / "revocation.py"


@pytest.mark.parametrize(("flags", "measure"), [
    ([], "terminate sent → consultant closed"),
    (["--withdraw"], "withdrawal sent → consultant told"),  # taking `control` back (#16), measured alike
])
def test_revocation_benchmark_prints_p50_and_p99_of_the_cut(flags, measure):
    result = subprocess.run([sys.executable, str(BENCH), "--quick", *flags], capture_output=True, text=True,
                            timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    cut = re.search(rf"{measure}\s+n=5\s+p50=\s*([\d.]+) ms\s+p99=\s*([\d.]+) ms", result.stdout)
    assert cut, result.stdout
    p50, p99 = map(float, cut.groups())
    assert 0 < p50 <= p99
