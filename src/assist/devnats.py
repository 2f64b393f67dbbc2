"""The bundled nats-server's users under `assist dev`: the same permission matrix as compose and Kubernetes.

Passwords are fresh for every run (the server and every service start together, so nothing needs to remember
them); the operator's credentials go into `dev.json`'s `nats_url` for the tools and tests that read the streams.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from assist_contract import natsauth


@dataclass(frozen=True)
class BundledNatsAuth:
    config_file: Path
    passwords: dict[str, str] = field(repr=False)

    @classmethod
    def generate(cls, directory: Path) -> BundledNatsAuth:
        directory.mkdir(parents=True, exist_ok=True)
        config_file = directory / "nats-auth.conf"
        config_file.write_text(natsauth.render_authorization())
        return cls(config_file=config_file, passwords={user: natsauth.new_password() for user in natsauth.users()})

    def server_env(self) -> dict[str, str]:
        """nats-server's environment: where its config reads each user's password from."""
        return {**os.environ, **{natsauth.password_variable(u): p for u, p in self.passwords.items()}}

    def service_env(self, service: str) -> dict[str, str]:
        """What a service process connects with: its own user."""
        return {"NATS_USER": service, "NATS_PASSWORD": self.passwords[service]}

    def operator_url(self, url: str) -> str:
        """`url` with the operator's credentials, for `dev.json` (tools and tests that read every stream)."""
        host = url.removeprefix("nats://")
        return f"nats://{natsauth.OPERATOR}:{quote(self.passwords[natsauth.OPERATOR], safe='')}@{host}"
