"""Child processes of `assist dev`: start with a log file, probe readiness, stop in order."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

_PR_SET_PDEATHSIG = 1


class StartupError(Exception):
    """The system could not come up; the message names the service and its log file."""


def _die_with_parent() -> None:
    # If `assist dev` itself is killed (SIGKILL, a crash), its children get SIGTERM instead of living on as orphans.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Child:
    """One service process, its port (if it serves HTTP) and its log file."""

    def __init__(self, *, name: str, argv: Sequence[str], env: dict[str, str], log_path: Path,
                 port: int | None = None, host: str = "127.0.0.1") -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.log_path = log_path
        self.port = port
        self.host = host
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        # Probe through loopback even when the child listens on every interface.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def describe(self) -> dict:
        """What `dev.json` records of this child."""
        return {"url": self.url, "port": self.port, "pid": self.pid, "log": str(self.log_path)}

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n--- {stamp} assist dev starts {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            # Its own session: Ctrl-C in the terminal reaches only `assist dev`, which then stops children in order.
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def exited(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def is_ready(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"{self.url}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def describe_exit(self) -> str:
        code = self.exited()
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
        return f"{self.name} {how}; see its log: {self.log_path}"


def wait_ready(children: Sequence[Child], *, timeout: float, stop: threading.Event) -> bool:
    """Until every child's /readyz answers 200. False if a stop was asked for meanwhile."""
    pending = [child for child in children if child.port is not None]
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while pending:
            for child in children:
                if child.exited() is not None:
                    raise StartupError(child.describe_exit())
            pending = [child for child in pending if not child.is_ready(client)]
            if not pending:
                break
            if time.monotonic() > deadline:
                names = ", ".join(f"{c.name} (log: {c.log_path})" for c in pending)
                raise StartupError(f"not ready after {timeout:.0f} s: {names}")
            if stop.wait(0.1):
                return False
    return True


def wait_exit(child: Child, *, timeout: float, stop: threading.Event) -> int | None:
    """The exit status of a short-lived child (a migration step); None if a stop was asked for first."""
    deadline = time.monotonic() + timeout
    while child.exited() is None:
        if time.monotonic() > deadline:
            raise StartupError(f"{child.name} did not finish in {timeout:.0f} s; see its log: {child.log_path}")
        if stop.wait(0.1):
            return None
    return child.exited()


def stop_all(children: Sequence[Child], *, timeout: float) -> None:
    """SIGTERM to every one of them at once, then SIGKILL whatever is still there after `timeout` seconds."""
    running = [child for child in children if child.process is not None and child.exited() is None]
    for child in running:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(child, signal.SIGKILL)
            child.process.wait()


def _signal(child: Child, signum: int) -> None:
    try:
        child.process.send_signal(signum)
    except ProcessLookupError:
        pass
