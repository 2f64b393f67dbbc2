"""The fault suite: each service its own OS process (not under `assist dev`, which stops everything when a child
dies), so a test can SIGKILL one and restart it, restart NATS or PostgreSQL, or cut one gateway off from NATS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The suite's helper modules (stack.py, stream.py, proxy.py) sit beside the tests; pytest imports in importlib mode.
sys.path.insert(0, str(Path(__file__).parent))

from stack import Stack  # noqa: E402


@pytest.fixture
def stack_factory(tmp_path, database_location):
    stacks: list[Stack] = []

    def make(**options) -> Stack:
        stack = Stack(tmp_path / f"stack{len(stacks)}", {**os.environ, **database_location.env()}, **options)
        stacks.append(stack)
        return stack.start()

    yield make
    for stack in stacks:
        stack.stop()
