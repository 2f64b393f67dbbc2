"""The `assist` command without a running system: parsing, readable errors, migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ASSIST = str(Path(sys.executable).parent / "assist")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ASSIST, *args], env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )


def test_python_dash_m_assist_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "assist", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "dev" in result.stdout and "user" in result.stdout


def test_dev_rejects_a_port_that_is_not_a_number(tmp_path):
    result = run("dev", env={"ASSIST_PORT": "eighty", "ASSIST_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "ASSIST_PORT must be a whole number" in result.stdout + result.stderr


def test_migrate_brings_every_service_up_to_date_twice_in_a_row(database_location):
    env = database_location.env()
    first = run("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "migrated gateway" in first.stdout
    again = run("migrate", env=env)
    assert again.returncode == 0, again.stderr


def test_migrate_names_an_unknown_service():
    result = run("migrate", "nonsense")
    assert result.returncode == 2
    assert "unknown service" in result.stderr


def test_user_add_works_before_the_system_ever_ran(database_location):
    result = run("user", "add", "--role", "finance", "--username", "dora", "--password", "correct horse battery",
                 env=database_location.env())
    assert result.returncode == 0, result.stderr


def test_user_add_twice_is_a_readable_error(database_location):
    args = ("user", "add", "--role", "admin", "--username", "erin", "--password", "correct horse battery")
    assert run(*args, env=database_location.env()).returncode == 0
    again = run(*args, env=database_location.env())
    assert again.returncode == 2
    assert "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
