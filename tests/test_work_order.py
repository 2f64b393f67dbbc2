"""`make test` hands its workers the longest modules first, from the times tests/timings.json keeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from work_order import SECONDS_PER_UNKNOWN_TEST, longest_modules_first, read_timings

REPO = Path(__file__).resolve().parents[1]


def items(*nodeids: str) -> list:
    return [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]


def test_modules_come_longest_first_and_each_keeps_its_tests_in_order():
    collected = items("a.py::one", "a.py::two", "b.py::one", "c.py::one", "c.py::two", "c.py::three")
    longest_modules_first(collected, {"a.py": 3.0, "b.py": 40.0, "c.py": 12.0})
    assert [item.nodeid for item in collected] == [
        "b.py::one", "c.py::one", "c.py::two", "c.py::three", "a.py::one", "a.py::two"]


def test_a_module_without_a_figure_is_costed_by_its_number_of_tests_and_ties_keep_the_collection_order():
    collected = items("new.py::one", "new.py::two", "new.py::three", "known.py::one", "tie.py::one")
    seconds_of_new = 3 * SECONDS_PER_UNKNOWN_TEST
    longest_modules_first(collected, {"known.py": seconds_of_new + 0.1, "tie.py": seconds_of_new})
    assert [item.nodeid for item in collected] == [
        "known.py::one", "new.py::one", "new.py::two", "new.py::three", "tie.py::one"]


def test_an_unreadable_timings_file_orders_nothing_rather_than_failing(tmp_path):
    broken = tmp_path / "timings.json"
    broken.write_text("[not, json")
    assert read_timings(broken) == {}
    assert read_timings(tmp_path / "missing.json") == {}


def test_the_committed_figures_name_only_modules_that_exist():
    timings = read_timings()
    assert timings, "tests/timings.json is empty or unreadable"
    assert [module for module in timings if not (REPO / module).is_file()] == []


def test_the_parallel_pass_collects_the_longest_module_first():
    timings = read_timings()
    selection = ["tests/faults", "tests/test_cli_dev.py", "tests/test_i18n_words.py"]
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "--dist", "loadfile", *selection], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    modules = list(dict.fromkeys(line.split("::")[0] for line in result.stdout.splitlines() if "::" in line))
    assert len(modules) == 5, modules
    assert modules == sorted(modules, key=lambda module: -timings.get(module, 0.0))


def test_a_recording_run_writes_its_modules_times_and_keeps_the_others(tmp_path):
    path = tmp_path / "timings.json"
    path.write_text(json.dumps({"tests/test_cli_dev.py": 69.0, "tests/test_gone.py": 5.0}))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             f"--record-timings={path}", "tests/test_i18n_words.py"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    written = json.loads(path.read_text())
    assert set(written) == {"tests/test_cli_dev.py", "tests/test_i18n_words.py"}
    assert written["tests/test_cli_dev.py"] == 69.0
    assert written["tests/test_i18n_words.py"] >= 0
