"""End-to-end fixtures: the whole system started as `make run` starts it (`.venv/bin/assist dev`).

`start_system(gateways=1, extra_env=None)` returns a running `System`; see `test_cli_dev.py` for how it reads.
It runs on PostgreSQL when `DATABASE_URL` is set (through the `database_location` fixture), else on SQLite files.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from system import ASSIST, System, port_block

__all__ = ["ASSIST", "System"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's outcome so fixtures can tell at teardown whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def start_system(request, database_location) -> Callable[..., System]:
    systems: list[System] = []

    def start(gateways: int = 1, extra_env: dict[str, str] | None = None) -> System:
        n = len(systems)
        # Each system of a test gets its own files and schemas; all are dropped with the test's database_location.
        data_dir = database_location.data_dir / f"system{n}"
        env = {**os.environ, **database_location.env()}
        env.update(
            ASSIST_DATA_DIR=str(data_dir),
            ASSIST_PORT=str(port_block(gateways)),
            ASSIST_GATEWAYS=str(gateways),
            DATABASE_SCHEMA_PREFIX=database_location.schema_prefix + (f"s{n}_" if n else ""),
        )
        env.update(extra_env or {})
        system = System(env=env, data_dir=data_dir)
        systems.append(system)
        return system.start()

    yield start

    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for system in systems:
        try:
            system.stop()
        finally:
            if failed:
                for name in system.log_names():
                    print(f"\n----- {name} (last lines) -----\n{system.log_tail(name)}")
