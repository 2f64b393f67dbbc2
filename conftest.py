"""The whole repository's test options: read for any selection (`make test PYTEST_ARGS=services/consent` too)."""

from __future__ import annotations


def pytest_addoption(parser):
    parser.addoption(
        "--exclusive", choices=("run", "skip", "only"), default="run",
        help="tests marked exclusive (they restart what every other test uses): run them with the rest (the "
             "default, for one process), skip them (the parallel pass of `make test`), or run only them (its "
             "second pass, alone)",
    )


def pytest_collection_modifyitems(config, items):
    choice = config.getoption("--exclusive")
    if choice == "run":
        return
    wanted = choice == "only"
    kept, dropped = [], []
    for item in items:
        (kept if (item.get_closest_marker("exclusive") is not None) == wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
