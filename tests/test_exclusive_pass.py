"""`make test`'s two passes: the parallel one leaves out the tests marked exclusive, the second runs only them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES_RESTART = ("tests/faults/test_restarts.py::"
                    "test_a_postgresql_restart_loses_no_event_and_bills_no_session_twice")


def collected(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             *args, "tests/faults"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_postgresql_restart_runs_alone_and_only_in_its_own_pass():
    alone = collected("--exclusive", "only")
    assert alone == [POSTGRES_RESTART]
    beside = collected("--exclusive", "skip")
    assert POSTGRES_RESTART not in beside and len(beside) > 5
    assert sorted(collected()) == sorted(beside + alone)
