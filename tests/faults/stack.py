"""A whole system started process by process: a nats-server, consent, session, billing and N gateways, each
`python -m assist service NAME` on a fixed port, so a killed service comes back at the same address.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from assist_platform.natsserver import NatsServerProcess
from assist_platform.ports import free_ports
from assist_platform.testing import ServiceProcess, wait_until_ready
from system import UNTHROTTLED_HELP_REQUESTS

PASSWORD = "a long enough password"
SERVICES = ("consent", "session", "billing")


class Stack:
    def __init__(self, root: Path, env: dict[str, str], *, gateways: int = 1,
                 gateway_nats_urls: dict[int, str] | None = None, nats_port: int | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServerProcess(root / "jetstream", log_file=root / "nats-server.log", port=nats_port)
        self.env = {**env, "NATS_URL": self.nats.url, "CODE_ATTEMPTS_PER_MINUTE": "100000",
                    "LOGIN_ATTEMPTS_PER_MINUTE": "100000", **UNTHROTTLED_HELP_REQUESTS, "LOG_LEVEL": "warning",
                    "PYTHONUNBUFFERED": "1"}
        # A gateway may reach NATS another way (through a proxy a test can cut): index → NATS URL.
        self.gateway_nats_urls = gateway_nats_urls or {}
        names = [*SERVICES, *(f"gateway-{i}" for i in range(1, gateways + 1))]
        # NATS may not listen yet (a test can pick its port and start it later).
        self.ports = dict(zip(names, free_ports(len(names), avoid=[self.nats.port]), strict=True))
        self.processes: dict[str, ServiceProcess] = {}

    @property
    def gateway_urls(self) -> list[str]:
        return [self.url(name) for name in self.ports if name.startswith("gateway-")]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> Stack:
        self.nats.start()
        self.assist("migrate")
        self.assist("user", "add", "--role", "consultant", "--username", "maria", "--password", PASSWORD)
        for name in self.ports:
            self.launch(name)
        self.wait_ready(list(self.ports))
        return self

    def launch(self, name: str) -> None:
        service, env = name.split("-")[0], dict(self.env)
        if service == "gateway":
            index = int(name.split("-")[1])
            env.update(REPLICA_ID=f"gw{index}", ASSIST_PORT="0")
            env["NATS_URL"] = self.gateway_nats_urls.get(index, self.nats.url)
        self.processes[name] = ServiceProcess(service, env=env, log_path=self.root / f"{name}.log",
                                              port=self.ports[name]).start()

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, no outbox is flushed, no socket is closed politely."""
        process = self.processes[name].process
        process.send_signal(signal.SIGKILL)
        process.wait()

    def restart(self, name: str) -> None:
        """What a supervisor (systemd, Kubernetes) does after a crash: start it again, same address."""
        self.launch(name)
        self.wait_ready([name])

    def wait_ready(self, names: list[str], timeout: float = 60.0) -> None:
        wait_until_ready({name: (self.processes[name].process, self.url(name)) for name in names}, timeout=timeout,
                         log_tail=self.log)

    def assist(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "-m", "assist", *args], env=self.env, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout + result.stderr

    def add_user(self, role: str, username: str, password: str, *, check: bool = True) -> None:
        """As `System.add_user`, so the shared relay helpers (relay_flow.open_relay) work on a stack too."""
        try:
            self.assist("user", "add", "--role", role, "--username", username, "--password", password)
        except AssertionError:
            if check:
                raise

    def log(self, name: str, lines: int = 30) -> str:
        path = self.root / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def all_alive(self) -> None:
        for name, service in self.processes.items():
            assert service.process.poll() is None, f"{name} died:\n{self.log(name)}"

    def stop(self) -> None:
        processes = [service.process for service in self.processes.values()]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.nats.stop()
