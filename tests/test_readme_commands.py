"""The commands the README shows exist and do what it says (dry runs; the system itself is tested e2e)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ASSIST = str(Path(sys.executable).parent / "assist")


def make_dry_run(target: str) -> str:
    result = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_is_shown_and_starts_assist_dev():
    assert "make run" in README
    assert ".venv/bin/assist dev" in make_dry_run("run")


def test_make_test_is_shown_and_runs_pytest():
    assert "make test" in README
    assert ".venv/bin/pytest" in make_dry_run("test")


def test_every_assist_subcommand_in_the_readme_has_help():
    shown = set(re.findall(r"assist ((?:user add)|dev|migrate|service)\b", README))
    assert {"dev", "user add"} <= shown
    for command in shown:
        result = subprocess.run([ASSIST, *command.split(), "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (command, result.stderr)


def test_user_add_help_names_the_roles():
    result = subprocess.run([ASSIST, "user", "add", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for role in ("consultant", "supervisor", "finance", "admin"):
        assert role in result.stdout


def test_the_docs_the_readme_points_to_exist():
    for path in re.findall(r"\((docs/[\w./-]+\.md)\)", README):
        assert (ROOT / path).exists(), path
