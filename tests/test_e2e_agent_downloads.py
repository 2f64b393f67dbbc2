"""Getting the agent as a customer does: `/downloads/` of a real gateway serves what `make agent` built, and the
one-file executable, downloaded from there, runs on a computer without Python and attaches with a real code.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import zipfile

import httpx
import pytest
from agent_build import REPO, built_agent_dist, executable_name, process_tree_files, wheels
from agent_flow import PASSWORD
from public_api import bearer, connect_consultant, login, next_control, request_help, wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def agent_dist(tmp_path_factory):
    return built_agent_dist(tmp_path_factory.mktemp("agent-dist"))


def _no_python_env(tmp_path) -> dict[str, str]:
    """A minimal environment whose PATH has no Python at all (on Debian /bin and /usr/bin hold python3)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": str(empty), "HOME": str(home), "TMPDIR": str(tmp_path), "DISPLAY": "", "LANG": "C.UTF-8"}


def test_the_executable_runs_with_no_python_on_path(agent_dist, tmp_path):
    executable = agent_dist / executable_name()
    for env in ({"PATH": "/usr/bin:/bin"}, _no_python_env(tmp_path)):  # `env -i PATH=/usr/bin:/bin`, then none
        result = subprocess.run([str(executable), "--help"], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "--gateway" in result.stdout and "--code" in result.stdout


async def test_downloads_serves_what_make_built_and_the_downloaded_executable_attaches(start_system, agent_dist,
                                                                                   tmp_path):
    system = start_system(extra_env={"ASSIST_AGENT_DIST_DIR": str(agent_dist)})
    executable, wheel = agent_dist / executable_name(), wheels(agent_dist)[-1]
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as client:
        index = await client.get("/downloads/")
        assert index.status_code == 200, index.text
        listed = {entry["name"]: entry for entry in index.json()["files"]}
        assert set(listed) == {executable.name, "assist-agent.whl"}
        assert listed[executable.name]["platform"] == executable.name.removeprefix("assist-agent-")
        assert listed["assist-agent.whl"]["versioned_url"] == f"/downloads/{wheel.name}"

        got_wheel = await client.get("/downloads/assist-agent.whl")
        assert got_wheel.status_code == 200
        assert got_wheel.headers["content-type"] == "application/zip"
        assert got_wheel.headers["content-disposition"] == f'attachment; filename="{wheel.name}"'
        assert got_wheel.content == wheel.read_bytes()
        assert hashlib.sha256(got_wheel.content).hexdigest() == listed["assist-agent.whl"]["sha256"]
        versioned = await client.get(f"/downloads/{wheel.name}")
        assert versioned.status_code == 200 and versioned.content == got_wheel.content

        got_executable = await client.get(f"/downloads/{executable.name}")
        assert got_executable.status_code == 200
        assert got_executable.headers["content-type"] == "application/octet-stream"
        assert got_executable.headers["content-disposition"] == f'attachment; filename="{executable.name}"'
        assert hashlib.sha256(got_executable.content).hexdigest() == listed[executable.name]["sha256"]
        assert got_executable.content == executable.read_bytes()

    # The wheel is a wheel: the agent's package and its entry point inside.
    downloaded_wheel = tmp_path / wheel.name
    downloaded_wheel.write_bytes(got_wheel.content)
    with zipfile.ZipFile(downloaded_wheel) as archive:
        names = archive.namelist()
    assert "assist_agent/cli.py" in names and any(name.endswith("entry_points.txt") for name in names)

    # The customer's computer: the downloaded file, chmod +x, no Python anywhere on PATH, not run from the repo.
    downloaded = tmp_path / "Downloads" / executable.name
    downloaded.parent.mkdir()
    downloaded.write_bytes(got_executable.content)
    downloaded.chmod(0o755)
    system.add_user("consultant", "maria", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
        request = await request_help(customer, scopes=("view",))
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        # In English: the status line's words are what this test waits for (Bulgarian is the default).
        agent = subprocess.Popen([str(downloaded), "--lang", "en", "--gateway", system.gateway_url,
                                  "--code", request.session_code],
                                 env=_no_python_env(tmp_path), cwd=downloaded.parent, stdin=subprocess.PIPE,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        async with asyncio.timeout(60):
            while "waiting for the consultant" not in log_path.read_text(errors="replace"):
                assert agent.poll() is None, log_path.read_text(errors="replace")
                await asyncio.sleep(0.1)
        # Its Python is the one inside the executable: nothing of the repository's .venv or the system's Python.
        mapped = process_tree_files(agent.pid)
        assert any("libpython" in path for path in mapped), sorted(mapped)
        assert not [path for path in mapped if str(REPO) in path or path.startswith("/usr/lib/python3")]

        # The relay works end to end: the consultant claims, joins and gets the agent's hello.
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as staff:
            token = await login(staff, "maria", PASSWORD)
            claimed = await staff.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
            assert claimed.status_code == 200, claimed.text
        consultant = await connect_consultant(system.gateway_url, request.session_id, token)
        try:
            await next_control(consultant, "peer_joined")
            async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
                await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
        finally:
            await consultant.close()
    finally:
        if agent.poll() is None:
            agent.terminate()
            agent.wait(timeout=20)
        print(log_path.read_text(errors="replace")[-3000:])
