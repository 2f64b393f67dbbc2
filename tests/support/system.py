"""The whole system started as `make run` starts it (`.venv/bin/assist dev`), for tests and benchmarks.

Its readiness is the platform's process harness (`assist_platform.testing`: `ready`, `ServiceProcess`), which the
service tests, the scale-out test and bench/*.py use too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assist_platform.ports import free_ports
from assist_platform.testing import READY_POLL_INTERVAL, DatabaseLocation, eventually_sync, ready

# The console script next to the interpreter running the tests: `.venv/bin/assist` under `make test`.
ASSIST = str(Path(sys.executable).parent / "assist")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 45.0


def port_block(count: int) -> int:
    """The first of `count` consecutive ports that are free right now."""
    return free_ports(count, consecutive=True)[0]


# Tests and benchmarks make many help requests from 127.0.0.1, more than the per-address limit and the cap on
# waiting requests let through; a system started for them lifts both unless its `env` sets them (the limits
# themselves are tested in tests/security/test_customer_input.py).
UNTHROTTLED_HELP_REQUESTS = {"HELP_REQUESTS_PER_ADDRESS": "1000000", "SESSION_MAX_WAITING_REQUESTS": "1000000"}


@contextmanager
def own_system(data_dir: Path, *, gateways: int = 1, users: Iterable[tuple[str, str, str]] = (),
               **extra_env: str) -> Iterator[System]:
    """A running system of a module's own (SQLite files in `data_dir` or fresh PostgreSQL schemas when
    `DATABASE_URL` is set), with its own bundled nats-server, `gateways` replicas, the accounts `users` (role,
    username, password) and the environment `extra_env`; stopped and its schemas dropped when the block ends,
    however it ends. (A test's own systems come from the `start_system` fixture, tests/conftest.py.)"""
    location = DatabaseLocation(data_dir=data_dir, database_url=os.environ.get("DATABASE_URL") or None,
                                schema_prefix=f"t{uuid.uuid4().hex[:10]}_")
    env = {**os.environ, **location.env(), "ASSIST_PORT": str(port_block(gateways)),
           "ASSIST_GATEWAYS": str(gateways), **extra_env}
    env.pop("NATS_URL", None)  # the bundled nats-server: a system must not share a broker with other tests
    system = System(env=env, data_dir=location.data_dir)
    try:
        system.start()
        for role, username, password in users:
            system.add_user(role, username, password)
        yield system
    finally:
        try:
            system.stop()
        finally:
            location.drop()


@contextmanager
def embedded_system(data_dir: Path, **extra_env: str) -> Iterator[System]:
    """A benchmark's system: one gateway on the embedded default (its own nats-server and SQLite files in
    `data_dir`, whatever NATS_URL and DATABASE_URL say) with the environment `extra_env`; stopped when the block
    ends, however it ends."""
    env = {**os.environ, "ASSIST_DATA_DIR": str(data_dir), "ASSIST_PORT": str(port_block(1)), "ASSIST_GATEWAYS": "1",
           **extra_env}
    env.pop("NATS_URL", None)
    env.pop("DATABASE_URL", None)
    system = System(env=env, data_dir=data_dir).start()
    try:
        yield system
    finally:
        system.stop()


class System:
    """One `assist dev` process and what it wrote to `dev.json`."""

    def __init__(self, *, env: dict[str, str], data_dir: Path, shared: bool = False) -> None:
        self.env = {**UNTHROTTLED_HELP_REQUESTS, **env}
        self.data_dir = data_dir
        # A system several tests use one after the other (tests/conftest.py `start_system(shared=True)`): each
        # test's `add_user` sets the account to what that test says, whatever an earlier test left.
        self.shared = shared
        self.output_path = data_dir / "assist-dev.out"
        self.process: subprocess.Popen | None = None
        self.state: dict = {}

    # --- what tests use -------------------------------------------------------------------------------------------

    @property
    def gateway_urls(self) -> list[str]:
        return self.state["gateway_urls"]

    @property
    def gateway_url(self) -> str:
        return self.gateway_urls[0]

    @property
    def nats_url(self) -> str:
        return self.state["nats_url"]

    @property
    def services(self) -> dict[str, dict]:
        return self.state["services"]

    def pids(self) -> list[int]:
        """Every process `assist dev` started: the services and the bundled nats-server."""
        pids = [service["pid"] for service in self.services.values()]
        return pids + ([self.state["nats_pid"]] if self.state.get("nats_pid") else [])

    def start(self) -> System:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.output_path.open("ab") as out:
            self.process = subprocess.Popen(
                [ASSIST, "dev"], env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_until_ready()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal `assist dev` (SIGTERM by default) and wait for it; its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"assist dev did not stop within {STOP_TIMEOUT} s:\n{self.log_tail('dev')}")

    def restart(self) -> System:
        self.stop()
        return self.start()

    def add_user(self, role: str, username: str, password: str, *, check: bool = True) -> None:
        """A staff account, made as `assist user add` makes it (the gateway's own validation and argon2 hash) but
        in this process: a process of its own costs seconds of start-up and migrations, which the running system
        has done. Fails the test if the account is refused or exists, unless `check=False`; on a shared system an
        existing account is given this role and password. `add_user_with_cli` runs the command itself."""
        from assist_platform.problems import Problem

        try:
            _in_thread(lambda: asyncio.run(self._add_user(role, username, password)))
        except Problem as problem:
            if check:
                raise AssertionError(f"adding {role} {username!r} failed: {problem.detail or problem.title}") from None

    async def _add_user(self, role: str, username: str, password: str) -> None:
        from assist_gateway.models import StaffAccount
        from assist_gateway.staff import create_staff_account, hash_password
        from assist_platform.db import Database
        from assist_platform.settings import PlatformSettings

        settings = PlatformSettings(
            database_url=self.env.get("DATABASE_URL") or None,
            assist_data_dir=Path(self.env["ASSIST_DATA_DIR"]),
            database_schema_prefix=self.env.get("DATABASE_SCHEMA_PREFIX", ""),
        )
        url, schema = settings.database_location("gateway")
        database = Database(url=url, schema=schema)
        try:
            async with database.transaction() as db:
                existing = await db.get(StaffAccount, username) if self.shared else None
                if existing is None:
                    await create_staff_account(db=db, username=username, password=password, role=role)
                else:
                    existing.role, existing.password_hash = role, await hash_password(password)
                    db.add(existing)
        finally:
            await database.close()

    def add_user_with_cli(self, role: str, username: str, password: str, *,
                          check: bool = True) -> subprocess.CompletedProcess:
        """`assist user add` with this system's environment; fails the test unless it succeeds (or `check=False`)."""
        result = self.assist("user", "add", "--role", role, "--username", username, "--password", password)
        if check and result.returncode != 0:
            raise AssertionError(f"assist user add failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def assist(self, *args: str) -> subprocess.CompletedProcess:
        """Any `assist` command with this system's environment."""
        # The bound only stops a hung command: on a loaded 2-core machine several argon2 `user add`s side by side
        # have taken more than a minute.
        return subprocess.run(
            [ASSIST, *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The end of a service's log (`consent`, `gateway-1`, `nats-server`, `migrate`), or of `dev`'s output."""
        path = self.output_path if name == "dev" else self.data_dir / "logs" / f"{name}.log"
        if not path.exists():
            return f"({path} does not exist)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_names(self) -> list[str]:
        return ["dev"] + sorted(path.stem for path in (self.data_dir / "logs").glob("*.log"))

    # --- waiting --------------------------------------------------------------------------------------------------

    def _wait_until_ready(self) -> None:
        state_file = self.data_dir / "dev.json"

        def started() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"assist dev exited with {self.process.returncode}:\n{self.log_tail('dev')}")
            return self._read_state(state_file) and all(ready(s["url"]) for s in self.services.values())

        try:
            eventually_sync(started, timeout=START_TIMEOUT, what="assist dev", interval=READY_POLL_INTERVAL)
        except AssertionError:
            if self.process.poll() is None:
                self.stop()
                raise AssertionError(f"assist dev not ready after {START_TIMEOUT} s:\n{self.log_tail('dev')}") from None
            raise

    def _read_state(self, state_file: Path) -> bool:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return False
        # A dev.json left by an earlier run belongs to another process.
        if state.get("pid") != self.process.pid:
            return False
        self.state = state
        return True



def _in_thread(work):
    """`work()` on a thread of its own (so `asyncio.run` works from async tests too); its result or exception."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
