"""`assist dev`: the whole system on one machine, each service its own process, stopped in order."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading

from assist_platform.files import create_owner_only_dir
from assist_platform.natsserver import NatsServerProcess
from assist_platform.ports import free_ports

from . import services
from .devconfig import ConfigError, DevConfig
from .devnats import BundledNatsAuth
from .supervisor import Child, StartupError, stop_all, wait_exit, wait_ready

MIGRATE_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0


def say(message: str = "") -> None:
    print(message, flush=True)


class DevSystem:
    def __init__(self, config: DevConfig) -> None:
        self.config = config
        self.stop_requested = threading.Event()
        self.nats: NatsServerProcess | None = None
        self.nats_url = config.nats_url
        # Users per service on the bundled server; an external NATS_URL brings its own credentials, if any.
        self.nats_auth: BundledNatsAuth | None = None
        self.backends: list[Child] = []
        self.gateways: list[Child] = []

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            if not self._start():
                return 0  # stopped by a signal while starting
            self._write_state()
            self._print_banner()
            return self._supervise()
        except StartupError as error:
            say(f"assist dev: {error}")
            return 1
        finally:
            self._stop()

    def _on_signal(self, signum: int, _frame) -> None:
        if not self.stop_requested.is_set():
            say(f"\nassist dev: {signal.Signals(signum).name} received, stopping")
        self.stop_requested.set()

    # --- starting -------------------------------------------------------------------------------------------------

    def _start(self) -> bool:
        config = self.config
        # The data dir holds the SQLite files, the JetStream store and logs with personal data: the owner's only.
        create_owner_only_dir(config.data_dir)
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        config.state_file.unlink(missing_ok=True)  # a stale file from a run that was killed
        _check_ports_free(config.host, config.gateway_ports)
        if self.nats_url is None:
            self._start_nats()
        if not self._migrate():
            return False
        # The gateways' ports are not bound until they start: a port picked for a backend must not be one of them.
        names = services.backend_services()
        ports = free_ports(len(names), avoid=config.gateway_ports)
        self.backends = [self._service(name, port) for name, port in zip(names, ports, strict=True)]
        self.gateways = [self._gateway(i, port) for i, port in enumerate(config.gateway_ports, start=1)]
        say(f"starting {', '.join(c.name for c in self.backends + self.gateways)} (logs in {config.logs_dir})")
        for child in self.backends + self.gateways:
            child.start()
        return wait_ready(self.backends + self.gateways, timeout=self.config.assist_ready_timeout, stop=self.stop_requested)

    def _start_nats(self) -> None:
        log_file = self.config.logs_dir / "nats-server.log"
        self.nats_auth = BundledNatsAuth.generate(self.config.data_dir)
        self.nats = NatsServerProcess(
            self.config.data_dir / "nats", port=free_ports(1, avoid=self.config.gateway_ports)[0],
            log_file=log_file, own_session=True,
            extra_args=["-c", str(self.nats_auth.config_file)], env=self.nats_auth.server_env(),
        )
        try:
            self.nats.start()
        except (TimeoutError, OSError, RuntimeError) as error:
            raise StartupError(f"nats-server did not start ({error}); see its log: {log_file}") from None
        self.nats_url = self.nats.url

    def _migrate(self) -> bool:
        """Every service's migrations, once, before any service starts (as an init container would)."""
        child = Child(name="migrate", argv=[sys.executable, "-m", "assist", "migrate"],
                      env=self._env(), log_path=self.config.logs_dir / "migrate.log")
        say(f"migrating {', '.join(services.available_services())} ({self.config.database_kind})")
        child.start()
        status = wait_exit(child, timeout=MIGRATE_TIMEOUT, stop=self.stop_requested)
        if status is None:
            stop_all([child], timeout=STOP_TIMEOUT)
            return False
        if status != 0:
            raise StartupError(f"migrations failed; see {child.log_path}")
        return True

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(NATS_URL=self.nats_url or "", ASSIST_DATA_DIR=str(self.config.data_dir), PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    def _service(self, name: str, port: int) -> Child:
        return Child(
            name=name, argv=[sys.executable, "-m", "assist", "service", name, "--port", str(port)],
            env=self._env(**self._nats_user(name), **self._spans_file(name)),
            log_path=self.config.logs_dir / f"{name}.log", port=port,
        )

    def _gateway(self, index: int, port: int) -> Child:
        name, host = f"gateway-{index}", self.config.host
        return Child(
            name=name,
            argv=[sys.executable, "-m", "assist", "service", services.GATEWAY, "--port", str(port), "--host", host],
            env=self._env(ASSIST_PORT=str(port), REPLICA_ID=f"gw{index}", **self._nats_user(services.GATEWAY),
                          **self._spans_file(name)),
            log_path=self.config.logs_dir / f"{name}.log", port=port, host=host,
        )

    def _spans_file(self, name: str) -> dict[str, str]:
        """With ASSIST_TRACE_SPANS=1 each service writes its spans as JSON lines to `spans/<name>.jsonl`."""
        if not self.config.assist_trace_spans:
            return {}
        spans_dir = self.config.data_dir / "spans"
        spans_dir.mkdir(parents=True, exist_ok=True)
        return {"ASSIST_SPANS_FILE": str(spans_dir / f"{name}.jsonl")}

    def _nats_user(self, service: str) -> dict[str, str]:
        return self.nats_auth.service_env(service) if self.nats_auth else {}

    # --- running --------------------------------------------------------------------------------------------------

    def _supervise(self) -> int:
        """Until a signal (exit 0) or a child that dies on its own (exit 1)."""
        while not self.stop_requested.wait(0.2):
            for child in self.backends + self.gateways:
                if child.exited() is not None:
                    say(f"assist dev: {child.describe_exit()}; stopping everything")
                    return 1
        return 0

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "data_dir": str(self.config.data_dir),
            "database": self.config.database_kind,
            "gateway_urls": [c.url for c in self.gateways],
            # With the operator's credentials on the bundled server: for tools and tests that read the streams.
            "nats_url": self.nats_auth.operator_url(self.nats_url) if self.nats_auth else self.nats_url,
            "nats_pid": self.nats.process.pid if self.nats and self.nats.process else None,
            "services": {c.name: c.describe() for c in self.backends + self.gateways},
            "logs_dir": str(self.config.logs_dir),
        }
        # Written once everything is ready, and atomically: a reader that finds the file may use it at once.
        scratch = self.config.state_file.with_suffix(".json.tmp")
        scratch.touch(mode=0o600)  # it holds the operator's NATS password
        scratch.write_text(json.dumps(state, indent=2) + "\n")
        scratch.replace(self.config.state_file)

    def _print_banner(self) -> None:
        gateway = self.gateways[0].url
        say("\nassist is running")
        for child in self.gateways:
            say(f"  gateway   {child.url}   (replica {child.env['REPLICA_ID']})")
        for child in self.backends:
            say(f"  {child.name:<9} {child.url}")
        say(f"  nats      {self.nats_url}" + ("   (bundled, JetStream)" if self.nats else ""))
        say(f"  database  {self.config.database_kind}   data in {self.config.data_dir}")
        say(f"  logs      {self.config.logs_dir}/")
        say("\nTo log in, create a staff account (in another terminal), then ask for a token:")
        say("  .venv/bin/assist user add --role consultant --username alice --password 'a long enough secret'")
        say(f"  curl -s -d username=alice -d 'password=a long enough secret' {gateway}/api/v1/auth/token")
        say("\nStop with Ctrl-C; a restart with the same ASSIST_DATA_DIR continues where it stopped.")

    # --- stopping -------------------------------------------------------------------------------------------------

    def _stop(self) -> None:
        # Gateways first so nobody is accepted while the services behind them go; NATS last so they can drain.
        stop_all(self.gateways, timeout=STOP_TIMEOUT)
        stop_all(self.backends, timeout=STOP_TIMEOUT)
        if self.nats is not None:
            self.nats.stop()
        self.config.state_file.unlink(missing_ok=True)
        say("assist dev: stopped")


def _check_ports_free(host: str, ports: list[int]) -> None:
    for port in ports:
        with socket.socket() as probe:
            # As uvicorn does: a port whose old connections linger in TIME_WAIT is free to listen on.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                raise StartupError(f"port {port} is in use; set ASSIST_PORT to a free port") from None


def run_dev() -> int:
    try:
        config = DevConfig.load()
    except ConfigError as error:
        say(f"assist dev: {error}")
        return 2
    return DevSystem(config).run()
