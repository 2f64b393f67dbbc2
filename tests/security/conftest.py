"""The security suite's systems: `assist dev` started once for the suite (starting one costs seconds), with the
identities every test of the suite attacks with.
"""

from __future__ import annotations

import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from assist_platform.testing import DatabaseLocation
from system import System, port_block

# The suite's helper modules (identities.py) sit beside the tests; pytest imports tests in importlib mode.
sys.path.insert(0, str(Path(__file__).parent))

from identities import PASSWORD, STAFF  # noqa: E402


def start_module_system(tmp_path_factory, **extra_env: str):
    """A running system of its own, SQLite files or fresh PostgreSQL schemas, and how to drop it."""
    location = DatabaseLocation(
        data_dir=tmp_path_factory.mktemp("security"),
        database_url=os.environ.get("DATABASE_URL") or None,
        schema_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    env = {**os.environ, **location.env(), "ASSIST_PORT": str(port_block(1)), "ASSIST_GATEWAYS": "1", **extra_env}
    env.pop("NATS_URL", None)  # the bundled nats-server: the suite must not share a broker with other tests
    system = System(env=env, data_dir=location.data_dir).start()
    try:
        # Each `assist user add` is a process of its own (seconds of start-up and argon2): added side by side.
        with ThreadPoolExecutor(len(STAFF)) as pool:
            list(pool.map(lambda item: system.add_user(item[0].removeprefix("other_"), item[1], PASSWORD),
                          STAFF.items()))
    except BaseException:
        # The fixture never yields this system, so nobody else would stop it or drop its schemas.
        try:
            system.stop()
        finally:
            location.drop()
        raise
    return system, location


@pytest.fixture(scope="package")
def system(tmp_path_factory):
    """One system for the matrix, the fuzzer and the header checks: none of them needs a fresh one."""
    # The fuzzer's random logins would otherwise lock the later tests out: throttling has a system of its own.
    # The matrix and the fuzzer read the live /openapi.json, which a gateway serves only with API_DOCS.
    system, location = start_module_system(tmp_path_factory, LOGIN_ATTEMPTS_PER_MINUTE="100000",
                                           CODE_FAILURES_PER_MINUTE="100000", CODE_FAILURES_PER_MINUTE_TOTAL="100000",
                                           API_DOCS="true")
    try:
        yield system
    finally:
        try:
            system.stop()
        finally:
            location.drop()
