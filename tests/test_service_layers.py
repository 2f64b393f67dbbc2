"""Inside every service the same skeleton and the same layers (docs/architecture.md): `main.py` declares the service
with the platform's `ServiceDefinition`; in consent, session and billing only the service layer (`service.py`)
opens a transaction; commands are listed with `command_table`; nobody wakes the outbox by hand.

The sources are read, not imported: a failure names the file and the line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("consent", "session", "billing", "gateway")
LAYERED = ("consent", "session", "billing")


def _package(service: str) -> Path:
    return ROOT / "services" / service / "src" / f"assist_{service}"


def _lines_matching(pattern: str, paths) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_declared_with_the_platforms_skeleton(service):
    # The gateway declares itself in storage.py (importable without its app); main.py takes its faces from there.
    declaring = _package(service) / ("storage.py" if service == "gateway" else "main.py")
    assert re.search(r"^\w+ = ServiceDefinition\(", declaring.read_text(), re.MULTILINE), declaring


@pytest.mark.parametrize("service", LAYERED)
def test_only_the_service_layer_opens_a_transaction(service):
    modules = [path for path in _package(service).rglob("*.py") if path.name != "service.py"]
    assert _lines_matching(r"\.transaction\(\)", modules) == []


@pytest.mark.parametrize("service", LAYERED)
def test_commands_are_listed_with_the_command_table(service):
    commands = _package(service) / "commands.py"
    assert "return command_table(" in commands.read_text()
    assert _lines_matching(r"\bCommand\(", [commands]) == []


def test_nobody_wakes_the_outbox_by_hand():
    sources = [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]
    assert _lines_matching(r"notify_outbox|\.notify\(\)", sources) == []


# In the gateway, its own tables are read and written by its service layer and by the modules that own a part of
# them (identity: tokens and logins; staff: accounts; termination: the ending kept while NATS is away; recording/:
# the recordings' rows, written by the recorder, read back by reading, deleted by retention), never by a route, a
# page or the relay.
GATEWAY_STATE_OWNERS = {"service.py", "identity.py", "staff.py", "termination.py", "recorder.py", "reading.py",
                        "retention.py"}


def test_no_gateway_route_page_or_relay_opens_a_transaction():
    modules = [path for path in _package("gateway").rglob("*.py")
               if path.name not in GATEWAY_STATE_OWNERS and "migrations" not in path.parts]
    assert len(modules) > 20
    assert _lines_matching(r"\.(transaction|session)\(\)", modules) == []
