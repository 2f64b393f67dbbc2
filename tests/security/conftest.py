"""The security suite's systems: `assist dev` started once for the suite (starting one costs seconds), with the
identities every test of the suite attacks with.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite's helper modules (identities.py) sit beside the tests; pytest imports tests in importlib mode.
sys.path.insert(0, str(Path(__file__).parent))

from identities import module_system  # noqa: E402


@pytest.fixture(scope="package")
def system(tmp_path_factory):
    """One system for the matrix, the fuzzer and the header checks: none of them needs a fresh one."""
    # The fuzzer's random logins would otherwise lock the later tests out: throttling has a system of its own.
    # The matrix and the fuzzer read the live /openapi.json, which a gateway serves only with API_DOCS.
    with module_system(tmp_path_factory, LOGIN_ATTEMPTS_PER_MINUTE="100000", CODE_FAILURES_PER_MINUTE="100000",
                       CODE_FAILURES_PER_MINUTE_TOTAL="100000", API_DOCS="true") as system:
        yield system
