"""The agent as `make agent` builds it into dist/ (wheel and one-file executable), for the tests that serve and run it.

`make test` runs `make agent` first, so the suite normally finds dist/ up to date and builds nothing. Run by hand
on stale or missing files, `built_agent_dist` builds them once into a cache directory instead (about 30 s), and
skips only where PyInstaller is not installed (the lock's `build` group installs it).
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
BUILD_SCRIPT = REPO / "agent" / "packaging" / "build_executable.py"
UV = REPO / ".tools" / "bin" / "uv"


def executable_name() -> str:
    return f"assist-agent-{platform.system().lower()}-{platform.machine().lower()}"


def _agent_inputs() -> list[Path]:
    return [*(REPO / "agent" / "src").rglob("*.py"), REPO / "agent" / "pyproject.toml",
            *(REPO / "agent" / "packaging").glob("*.py")]


def _fresh(files: list[Path]) -> bool:
    if not all(path.is_file() for path in files):
        return False
    newest_input = max(path.stat().st_mtime for path in _agent_inputs())
    return min(path.stat().st_mtime for path in files) >= newest_input


def wheels(directory: Path) -> list[Path]:
    return sorted(directory.glob("assist_agent-*-py3-none-any.whl"), key=lambda path: path.stat().st_mtime)


def built_agent_dist(cache: Path) -> Path:
    """A directory holding an up-to-date agent wheel and executable: dist/ after `make agent`, else `cache`."""
    found = wheels(DIST)
    if found and _fresh([found[-1], DIST / executable_name()]):
        return DIST
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (`make sync` installs the lock's build group)")
    uv = str(UV) if UV.exists() else shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (`make sync` installs it into .tools)")
    subprocess.run([sys.executable, str(BUILD_SCRIPT), "--dist", str(cache)], check=True, timeout=900, cwd=REPO)
    subprocess.run([uv, "build", "--package", "assist-agent", "--wheel", "--out-dir", str(cache)], check=True,
                   timeout=300, cwd=REPO)
    return cache


def process_tree_files(pid: int) -> set[str]:
    """The files mapped by `pid` and its children (PyInstaller's one-file bootloader runs the agent as a child)."""
    files: set[str] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/maps").read_text().splitlines():
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].startswith("/"):
                    files.add(fields[5])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending += [int(child) for child in children]
    return files
