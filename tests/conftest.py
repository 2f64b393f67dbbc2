"""End-to-end fixtures: the whole system started as `make run` starts it (`.venv/bin/assist dev`).

`start_system(gateways=1, extra_env=None)` returns a running `System` of the test's own; see `test_cli_dev.py` for how
it reads. `start_system(shared=True)` returns instead the system every such test of the session (of the xdist worker)
shares: two gateways, the throttles that would make tests interfere lifted. A test may take it only if it leaves it as
it found it (no stop, restart, kill, SIGSTOP, special environment) and touches only what it made itself (its own
requests and sessions, found by id; accounts that `add_user` sets to what the test says), never "all" of anything.
Systems run on PostgreSQL when `DATABASE_URL` is set (through `DatabaseLocation`), else on SQLite files.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from assist_platform.testing import DatabaseLocation
from system import ASSIST, System, port_block

__all__ = ["ASSIST", "System"]

# What the shared system lifts besides the help-request limits every test system lifts (system.py): failed logins
# and session codes, counted per address and minute, would let one test's refusals refuse the next test.
SHARED_SYSTEM_ENV = {
    "LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
    "CODE_FAILURES_PER_MINUTE": "1000000",
    "CODE_FAILURES_PER_MINUTE_TOTAL": "1000000",
}
SHARED_GATEWAYS = 2


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's outcome so fixtures can tell at teardown whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class _SharedSystem:
    """Started when a test first asks for it; started again (fresh files and schemas) if it has died."""

    def __init__(self, tmp_path_factory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.system: System | None = None
        self.locations: list[DatabaseLocation] = []

    def get(self) -> System:
        if self.system is not None and self.system.process.poll() is None:
            return self.system
        location = DatabaseLocation(
            data_dir=self.tmp_path_factory.mktemp("shared-system"),
            database_url=os.environ.get("DATABASE_URL") or None,
            schema_prefix=f"t{uuid.uuid4().hex[:10]}_",
        )
        self.locations.append(location)
        env = {**os.environ, **location.env(), **SHARED_SYSTEM_ENV,
               "ASSIST_PORT": str(port_block(SHARED_GATEWAYS)), "ASSIST_GATEWAYS": str(SHARED_GATEWAYS)}
        env.pop("NATS_URL", None)  # its own bundled nats-server, as `start_system` gives every system
        self.system = System(env=env, data_dir=location.data_dir, shared=True).start()
        return self.system

    def close(self) -> None:
        try:
            if self.system is not None:
                self.system.stop()
        finally:
            for location in self.locations:
                location.drop()


@pytest.fixture(scope="session")
def _shared_system(tmp_path_factory):
    shared = _SharedSystem(tmp_path_factory)
    yield shared
    shared.close()


@pytest.fixture
def start_system(request, database_location, _shared_system) -> Callable[..., System]:
    systems: list[System] = []
    shared_used: list[System] = []

    def start(gateways: int = 1, extra_env: dict[str, str] | None = None, *, shared: bool = False) -> System:
        if shared:
            if extra_env or gateways > SHARED_GATEWAYS:
                raise ValueError("the shared system has the default environment and two gateways")
            system = _shared_system.get()
            shared_used.append(system)
            return system
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
                print_log_tails(system)
    if failed:
        for system in shared_used[:1]:
            print("\n(the shared system: its logs hold earlier tests' lines too)")
            print_log_tails(system)


@pytest.fixture
def agents() -> Iterator:
    """The agent processes a test started (`agents.append(agent)`), stopped after it however it ends."""
    started = []
    yield started
    for agent in started:
        agent.stop()


def print_log_tails(system: System) -> None:
    for name in system.log_names():
        print(f"\n----- {name} (last lines) -----\n{system.log_tail(name)}")
