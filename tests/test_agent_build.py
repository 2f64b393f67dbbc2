"""`make run` and `make test` build the agent (wheel and executable) first, and only when its inputs changed."""

from __future__ import annotations

import subprocess

import pytest
from agent_build import DIST, REPO, executable_name, wheels


def _dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("target", ["run", "test"])
def test_make_run_and_test_build_the_agent_when_its_source_changed(target):
    planned = _dry_run(target, "-W", "agent/src/assist_agent/cli.py")  # as if cli.py had just been edited
    assert "build --package assist-agent --wheel" in planned
    assert "agent/packaging/build_executable.py --dist dist" in planned
    assert planned.index("build_executable.py") < planned.index(".venv/bin/assist dev" if target == "run"
                                                                 else ".venv/bin/pytest")


def test_make_agent_builds_nothing_when_nothing_changed():
    built = [*wheels(DIST)[-1:], DIST / executable_name()]
    inputs = [*(REPO / "agent" / "src").rglob("*.py"), *(REPO / "agent" / "packaging").glob("*.py"),
              REPO / "agent" / "pyproject.toml", REPO / "uv.lock"]
    if len(built) < 2 or not built[1].exists() or min(p.stat().st_mtime for p in built) < max(
            p.stat().st_mtime for p in inputs):
        pytest.skip("dist/ is not up to date with the agent's sources (`make agent` builds it; `make test` does)")
    planned = _dry_run("agent")
    assert "build_executable.py" not in planned and "uv build" not in planned, planned
