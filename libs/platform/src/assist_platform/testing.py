"""Pytest plugin: a real nats-server on a free port (and `nc`, a client of it), and a real database (SQLite file or a
PostgreSQL schema).

Load it with `-p assist_platform.testing`. `NATS_URL` and `DATABASE_URL` switch to external servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pytest

from .commands import call_command
from .natsserver import NatsServerProcess, nats_server_binary, wait_for_port
from .ports import free_port
from .processes import stop_process

__all__ = [
    "NatsServerProcess", "ServiceProcess", "TimedOut", "eventually", "eventually_sync", "free_port",
    "migrate_from_template", "nats_server_binary", "ready", "service_settings", "wait_for_port",
]


# --- waiting for a condition ------------------------------------------------------------------------------------------

POLL_INTERVAL = 0.02


class TimedOut(AssertionError):
    """`eventually` gave up: the condition never held. An AssertionError, so pytest reports it as a failed test;
    a class of its own, so a caller can tell "never happened" from an assertion the condition itself raised."""


async def stored_messages(js, stream: str) -> list:
    """Every message `stream` holds now, oldest first. An empty stream says first 0 and last 0 and has no message 0
    (asking for it is a 400), so it gives none; a message removed from the middle (a gap) is skipped."""
    from nats.js.errors import NotFoundError

    info = await js.stream_info(stream)
    if not info.state.messages:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            found.append(await js.get_msg(stream, seq))
        except NotFoundError:
            continue
    return found


async def eventually(condition: Callable[[], Any | Awaitable[Any]], *, timeout: float = 10.0, what: str = "",
                     interval: float = POLL_INTERVAL) -> Any:
    """Poll `condition` (a function, plain or async) until it returns something truthy, and return that. After
    `timeout` seconds fail the test, naming `what` (or the function) and the last value it returned."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(_timed_out(condition, timeout, what, result))
        await asyncio.sleep(interval)  # the polling interval, not a wait for time to pass


def eventually_sync(condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "",
                    interval: float = POLL_INTERVAL) -> Any:
    """`eventually` for code without an event loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(_timed_out(condition, timeout, what, result))
        time.sleep(interval)  # the polling interval, not a wait for time to pass


def _timed_out(condition, timeout: float, what: str, last) -> str:
    name = what or getattr(condition, "__qualname__", repr(condition))
    return f"timed out after {timeout:g} s waiting for {name} (last: {last!r})"


# --- processes a test or benchmark starts, and their readiness -------------------------------------------------------
# One harness for the suite (tests/support/system.py starts `assist dev` with it), the service tests that run a
# service as a process, the scale-out test and the benchmarks (bench/*.py).

READY_POLL_INTERVAL = 0.1


def ready(url: str, *, timeout: float = 2.0) -> bool:
    """Whether `url`/readyz answers 200 now."""
    import httpx

    try:
        return _http_client().get(f"{url}/readyz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@functools.cache
def _http_client():
    """One client for every readiness poll of the process: a new one per poll costs a TLS context (tenths of a
    second of CPU on a loaded machine) though the polls are plain HTTP. httpx's Client is thread-safe."""
    import httpx

    return httpx.Client()


def wait_until_ready(processes: dict[str, tuple[subprocess.Popen, str]], *, timeout: float = 60.0,
                     log_tail: Callable[[str], str] = lambda name: "") -> None:
    """Until every `name: (process, url)` answers /readyz with 200. Fails at once, with `log_tail(name)`, if one of
    them exits, and after `timeout` seconds naming those not ready."""
    pending = dict(processes)

    def all_ready() -> bool:
        for name, (process, url) in list(pending.items()):
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}:\n{log_tail(name)}")
            if ready(url):
                del pending[name]
        return not pending

    try:
        eventually_sync(all_ready, timeout=timeout, what="readiness", interval=READY_POLL_INTERVAL)
    except TimedOut:
        raise TimedOut(
            f"not ready after {timeout:g} s: {sorted(pending)}\n" + "\n".join(log_tail(name) for name in pending)
        ) from None


class ServiceProcess:
    """One service as its own process (`python -m assist service <name>`), as `assist dev` and Kubernetes run it,
    on a free port, its output in `log_path`."""

    def __init__(self, service: str, *, env: dict[str, str], log_path: Path, port: int | None = None,
                 cwd: Path | None = None) -> None:
        self.service = service
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def migrate(self) -> None:
        """The init step `assist dev` and the Kubernetes Job run: a service does not migrate at its start."""
        result = subprocess.run([sys.executable, "-m", "assist", "migrate", self.service], env=self.env,
                                cwd=self.cwd, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise AssertionError(f"assist migrate {self.service} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> ServiceProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assist", "service", self.service, "--port", str(self.port)],
                env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until_ready({self.service: (self.process, self.url)}, timeout=timeout,
                         log_tail=lambda _name: self.log_tail())

    async def wait_ready_async(self, timeout: float = 60.0) -> None:
        await asyncio.to_thread(self.wait_ready, timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return f"({self.log_path} does not exist)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process:
            stop_process(self.process, timeout=timeout)


@pytest.fixture
def own_nats_server(tmp_path: Path):
    """Always a private nats-server, for tests that stop and restart it."""
    server = NatsServerProcess(tmp_path / "jetstream").start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(tmp_path: Path):
    """The URL of a nats-server with JetStream: `NATS_URL` if set, else a private one for this test."""
    external = os.environ.get("NATS_URL")
    if external:
        yield external
        return
    server = NatsServerProcess(tmp_path / "jetstream").start()
    yield server.url
    server.stop()


@pytest.fixture
async def nc(nats_url: str):
    """A NATS client of the test's own (the caller of commands, a stand-in for another service), flushed and closed
    after: not drained, since a drain waits (30 s) on a pull subscription a test's consumer left behind."""
    client = await nats.connect(nats_url)
    yield client
    if client.is_connected:
        await client.flush(timeout=5)
    await client.close()


@pytest.fixture
def call(nc) -> Callable[..., Awaitable[dict]]:
    """A command called over `nc` as a service calls one: its answer, or the owner's `Problem` raised."""

    async def _call(subject: str, payload: dict, *, timeout: float = 15.0) -> dict:
        return await call_command(nc, subject, payload, timeout=timeout)

    return _call


class DatabaseLocation:
    """Where a test's services keep their data: a SQLite directory, or schemas under one PostgreSQL database."""

    def __init__(self, *, data_dir: Path, database_url: str | None, schema_prefix: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.schema_prefix = schema_prefix

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def env(self) -> dict[str, str]:
        env = {"ASSIST_DATA_DIR": str(self.data_dir), "DATABASE_SCHEMA_PREFIX": self.schema_prefix}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def drop(self) -> None:
        if not self.database_url:
            return
        from sqlalchemy import create_engine, text

        from .db import sync_url

        engine = create_engine(sync_url(self.database_url))
        with engine.begin() as connection:
            schemas = connection.execute(
                text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
                {"p": f"{self.schema_prefix}%"},
            ).scalars().all()
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def service_settings(settings_class: Callable[..., Any], nats_url: str, database_location: DatabaseLocation,
                     **overrides: Any) -> Any:
    """A service's `Settings` on the test's nats-server and database; `overrides` set the rest (or change these)."""
    values = dict(
        nats_url=nats_url,
        assist_data_dir=database_location.data_dir,
        database_url=database_location.database_url,
        database_schema_prefix=database_location.schema_prefix,
    )
    return settings_class(**{**values, **overrides})


@pytest.fixture
def database_location(tmp_path: Path):
    """SQLite files in a temporary directory, or (with `DATABASE_URL`) fresh schemas dropped afterwards."""
    location = DatabaseLocation(
        data_dir=tmp_path / "data",
        database_url=os.environ.get("DATABASE_URL") or None,
        schema_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    location.data_dir.mkdir(parents=True, exist_ok=True)
    yield location
    location.drop()


@pytest.fixture
def scratch_dir():
    path = Path(tempfile.mkdtemp(prefix="assist-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --- migrations once per test session --------------------------------------------------------------------------------


class _Template:
    """One service's database, migrated once by the service's own `migrate` under a prefix of its own; each test's
    database is a copy of it (SQLite: the file, through SQLite's backup API; PostgreSQL: the schemas the migration
    made, dumped once with pg_dump and replayed under the test's prefix)."""

    def __init__(self, migrate: Callable, settings, service: str) -> None:
        self.service = service
        self.prefix = f"tpl{uuid.uuid4().hex[:10]}_"
        self.data_dir = Path(tempfile.mkdtemp(prefix="assist-template-"))
        self.settings = settings.model_copy(update={"assist_data_dir": self.data_dir,
                                                    "database_schema_prefix": self.prefix})
        migrate(self.settings)
        self.url, _ = self.settings.database_location(service)
        self.sql = self._dump() if self.settings.database_url else None

    def _dump(self) -> str:
        dump = subprocess.run(
            ["pg_dump", "--dbname", _libpq_url(self.url), "--schema", f"{self.prefix}*", "--inserts", "--no-owner",
             "--no-privileges"],
            capture_output=True, text=True, check=True,
        ).stdout
        # psql's meta-commands (\restrict in newer dumps) are not SQL; the rest runs as one script.
        return "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))

    def copy_to(self, settings) -> bool:
        """False if the test's database exists already (it is left as it is)."""
        url, _ = settings.database_location(self.service)
        if self.sql is not None:
            import psycopg

            try:
                with psycopg.connect(_libpq_url(url)) as connection:
                    connection.execute(self.sql.replace(self.prefix, settings.database_schema_prefix))
            except psycopg.errors.DuplicateSchema:
                return False
            return True
        if Path(url.removeprefix("sqlite:///")).stat().st_size > 0:
            return False  # database_location created the file, empty, if it was missing
        source = sqlite3.connect(self.url.removeprefix("sqlite:///"))
        target = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        return True

    def drop(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.sql is not None:
            DatabaseLocation(data_dir=self.data_dir, database_url=self.settings.database_url,
                             schema_prefix=self.prefix).drop()


_templates: dict[tuple[str, str | None], _Template] = {}
_templates_lock = threading.Lock()


@contextlib.asynccontextmanager
async def service_running(service, settings, *, ready_timeout: float = 20.0):
    """A service's runtime in this process (`service`: its `ServiceDefinition`), started as its app starts it:
    migrated (from the test session's template), its `before_start` hooks run; yielded once ready, stopped after."""
    await asyncio.to_thread(migrate_from_template, service.migrate, settings, service.name)
    runtime = service.build_runtime(settings)
    for hook in service.before_start:
        await hook(runtime)
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.ready.wait(), timeout=ready_timeout)
        yield runtime
    finally:
        await runtime.stop()


def migrate_from_template(migrate: Callable, settings, service: str) -> None:
    """What `migrate(settings)` does to `service`'s database, in a fraction of its time: the first call of a test
    session migrates a template, later ones copy it. A database that exists already is migrated as it is."""
    if settings.database_url and shutil.which("pg_dump") is None:
        migrate(settings)
        return
    key = (service, settings.database_url)
    with _templates_lock:
        if key not in _templates:
            _templates[key] = _Template(migrate, settings, service)
        template = _templates[key]
    if not template.copy_to(settings):
        migrate(settings)


def _libpq_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pytest_sessionfinish(session, exitstatus) -> None:
    while _templates:
        _templates.popitem()[1].drop()
