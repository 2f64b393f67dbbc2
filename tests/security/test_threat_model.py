"""docs/security.md maps every threat to its tests: each row names at least one test function (a file or a folder
alone is not a test), and every file and test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
THREAT_ROW = re.compile(r"^\| (T\d+) \|")
NAMED = re.compile(r"`([^`]*(?:\.py|tests/[^`]*/)(?:::\w+)?)`")


def _threat_rows() -> dict[str, str]:
    rows = {}
    for line in (REPO / "docs" / "security.md").read_text(encoding="utf-8").splitlines():
        match = THREAT_ROW.match(line)
        if match:
            rows[match.group(1)] = line
    return rows


def _resolve(reference: str, last_file: Path | None) -> tuple[Path, str | None]:
    """`tests/x.py::test_y`, `x.py::test_y` (in tests/security/), `::test_y` (the file named before it in the row)."""
    path, _, test = reference.partition("::")
    if not path:
        assert last_file is not None, f"{reference} names no file and follows none"
        return last_file, test
    # A path from the repository's root (a service's own tests, too), or a file of this folder.
    rooted = path.startswith(("tests/", "services/", "libs/", "agent/"))
    file = REPO / path if rooted else REPO / "tests" / "security" / path
    return file, test or None


def test_every_threat_names_a_test_that_exists():
    rows = _threat_rows()
    assert len(rows) >= 14, rows.keys()
    for threat, row in rows.items():
        references = NAMED.findall(row.split("|")[4])
        assert any("::" in reference for reference in references), f"{threat} names no test function"
        last_file = None
        for reference in references:
            file, test = _resolve(reference, last_file)
            assert file.exists(), f"{threat}: {file.relative_to(REPO)} does not exist"
            if file.is_file():
                last_file = file
                if test:
                    assert re.search(rf"^(async )?def {test}\(", file.read_text(encoding="utf-8"), re.MULTILINE), (
                        f"{threat}: {file.relative_to(REPO)} has no {test}"
                    )
