"""A benchmark of bench/ run as a script, for the tests that check what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_output(script: str, *args: str, timeout: float) -> str:
    """What bench/`script` prints when run with `args`; it must exit 0 (else the end of its stderr is shown)."""
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
