"""No NATS subject or event type of ours is written outside the contract (`libs/contract`): both sides import it.

The subjects are taken from the contract itself (every command's subject, every event's type, the wildcards
`COMMANDS`, `EVENTS`, `CUT_ANY`, `RELAY_ANY`). A string literal in the code is an offender when it
- equals one of them (an audit action like `session.claimed`, a template `session.html` are not subjects);
- starts a command subject of ours (`cmd.consent.`, ...): a new command belongs in the contract too;
- is a wildcard over one of our namespaces (`session.>`, `gateway.cut.*`);
- begins an f-string that builds a subject (`f"cmd.{service}.audit"`, `f"relay.{sid}.{channel}"`).

Where: every .py of the services' sources, the platform, the CLI (src/), the agent and bench/. Not searched:
- migrations (`*/migrations/versions/`): frozen history, which must keep the words it was written with;
- test suites (`*/tests/`, `tests/`): they speak the wire on purpose, so that a renamed subject in the contract
  fails them instead of passing unnoticed.
The streams that keep the events are the contract's too (`assist_contract.streams`): the platform, below it, creates
what it is given.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from assist_contract import billing, consent, gateway, session
from assist_contract.spec import CommandSpec, EventSpec
from assist_contract.streams import STREAMS

ROOT = Path(__file__).resolve().parents[1]
SEARCHED = ["services/*/src", "libs/platform/src", "src", "agent/src", "bench"]
NAMESPACES = ("consent", "session", "billing", "gateway", "relay")
COMMAND_PREFIXES = tuple(f"cmd.{name}." for name in ("consent", "session", "billing", "gateway"))
# f-strings that build a subject start like this.
BUILT_PREFIXES = ("cmd.", "gateway.cut.", "relay.")



def _contract_subjects() -> set[str]:
    found: set[str] = set()
    for module in (consent, session, billing, gateway):
        for value in vars(module).values():
            if isinstance(value, CommandSpec):
                found.add(value.subject)
            elif isinstance(value, EventSpec):
                found.add(value.type)
        for name in ("COMMANDS", "EVENTS", "CUT_ANY", "RELAY_ANY"):
            if isinstance(getattr(module, name, None), str):
                found.add(getattr(module, name))
    return found


SUBJECTS = _contract_subjects()


def looks_like_ours(text: str) -> bool:
    if text in SUBJECTS or text.startswith(COMMAND_PREFIXES):
        return True
    head, _, rest = text.partition(".")
    return head in NAMESPACES and rest.endswith((">", "*"))


def offenders(source: str, *, filename: str) -> list[tuple[int, str]]:
    """(line, literal) of each string in `source` that writes a subject of ours."""
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, str]] = []
    in_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [part for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str)]
            in_fstrings |= {id(part) for part in parts}
            first = node.values[0] if node.values else None
            for part in parts:
                builds = part is first and part.value.startswith(BUILT_PREFIXES)
                if builds or looks_like_ours(part.value):
                    found.append((node.lineno, part.value))
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstrings
        if literal and looks_like_ours(node.value):
            found.append((node.lineno, node.value))
    return sorted(found)


def _searched_files() -> list[Path]:
    files = {path for pattern in SEARCHED for path in ROOT.glob(f"{pattern}/**/*.py")}
    return sorted(path for path in files
                  if "migrations" not in path.parts and "tests" not in path.parts and ".venv" not in path.parts)


def _all_offenders() -> list[tuple[str, int, str]]:
    return [(str(path.relative_to(ROOT)), line, literal)
            for path in _searched_files()
            for line, literal in offenders(path.read_text(encoding="utf-8"), filename=str(path))]


def test_the_contract_names_every_service_and_knows_its_subjects() -> None:
    # A contract read wrongly would make the search below pass vacuously.
    assert {"cmd.consent.revoke", "cmd.session.get", "cmd.billing.credit", "consent.revoked", "session.ended",
            "billing.record.closed", "gateway.terminate_requested", "session.>", "gateway.cut.*"} <= SUBJECTS
    searched = {str(path.relative_to(ROOT)) for path in _searched_files()}
    assert {"services/gateway/src/assist_gateway/relay/hub.py", "libs/platform/src/assist_platform/messaging.py",
            "src/assist/cli.py", "agent/src/assist_agent/cli.py", "bench/billing.py"} <= searched
    assert len(searched) > 100


def test_no_subject_is_written_outside_the_contract() -> None:
    left = _all_offenders()
    assert not left, "subjects written outside libs/contract (import them from assist_contract):\n" + "\n".join(
        f"{path}:{line}: {literal!r}" for path, line, literal in left
    )


def test_every_event_of_the_contract_is_kept_by_its_own_stream_and_no_other() -> None:
    every_event = [spec for module in (consent, session, billing, gateway)
                   for spec in vars(module).values() if isinstance(spec, EventSpec)]
    assert len(every_event) >= 10
    for spec in every_event:
        keepers = {name for name, patterns in STREAMS.items()
                   if any(_matches(pattern, spec.subject) for pattern in patterns)}
        assert keepers == {spec.stream}, spec


def _matches(pattern: str, subject: str) -> bool:
    return subject == pattern or (pattern.endswith(".>") and subject.startswith(pattern[:-1]))


SAMPLE = '''
TERMINATE = "cmd.consent.revoke"
NEW_COMMAND = "cmd.billing.refund"
ALL_SESSIONS = "session.>"
def audit(service, sid, channel):
    return f"cmd.{service}.audit", f"relay.{sid}.{channel}", f"{sid}: session.ended"
AUDIT_ACTION = "session.claimed"
TEMPLATE = "session.html"
SHELL = "cmd.exe"
'''


@pytest.mark.parametrize(("line", "literal"), [
    (2, "cmd.consent.revoke"), (3, "cmd.billing.refund"), (4, "session.>"), (6, "cmd."), (6, "relay."),
])
def test_the_search_names_the_line_of_each_kind_of_offender(line: int, literal: str) -> None:
    assert (line, literal) in offenders(SAMPLE, filename="sample.py")


def test_the_search_leaves_names_that_are_not_subjects_alone() -> None:
    assert {literal for _line, literal in offenders(SAMPLE, filename="sample.py")} == {
        "cmd.consent.revoke", "cmd.billing.refund", "session.>", "cmd.", "relay."}


def test_a_file_with_an_offender_fails_the_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The search itself, over a tree with one offender: it names the file and the line."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "leak.py").write_text('SUBJECT = "consent.granted"\n', encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert _all_offenders() == [("bench/leak.py", 1, "consent.granted")]
