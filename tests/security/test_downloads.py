"""`/downloads/` serves the agent's files and nothing else (T47): not the other files of its directory, not a file
beside it by path traversal, not an older wheel left behind, and its index lists no other name.

Then the executable itself (T48): it runs no Python module planted beside it or named by the environment.

A system of its own, whose downloads directory holds the agent's files among decoys, with a secret beside it.
Traversal is sent over a raw socket: an HTTP client would normalise `../` away before the gateway saw it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from urllib.parse import urlsplit

import httpx
import pytest
from agent_build import built_agent_dist, executable_name
from identities import module_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

EXECUTABLE = "assist-agent-linux-x86_64"
WHEEL = "assist_agent-0.2.0-py3-none-any.whl"
OLD_WHEEL = "assist_agent-0.1.0-py3-none-any.whl"
SECRET = b"not for download: the server's own file"
DECOYS = [".gitignore", "notes.txt", f"{EXECUTABLE}.spec", "assist_agent-0.2.0.tar.gz", "assist-agent-linux-x86_64.sh",
          "assist-agent.whl.bak"]


@pytest.fixture(scope="module")
def downloads_system(tmp_path_factory):
    root = tmp_path_factory.mktemp("downloads")
    (root / "secret.txt").write_bytes(SECRET)
    dist = root / "dist"
    dist.mkdir()
    for decoy in DECOYS:
        (dist / decoy).write_bytes(SECRET)
    (dist / OLD_WHEEL).write_bytes(b"PK old wheel")
    os.utime(dist / OLD_WHEEL, (1_000_000_000, 1_000_000_000))  # older than the current one
    (dist / WHEEL).write_bytes(b"PK wheel")
    (dist / EXECUTABLE).write_bytes(b"\x7fELF agent")
    # Nobody logs in here: no staff accounts.
    with module_system(tmp_path_factory, data_dir=root / "data", staff=False,
                       ASSIST_AGENT_DIST_DIR=str(dist)) as system:
        yield system


async def _raw_get(gateway_url: str, raw_path: str) -> tuple[int, bytes]:
    """GET with the path exactly as written, over a plain socket."""
    address = urlsplit(gateway_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(f"GET {raw_path} HTTP/1.1\r\nHost: {address.netloc}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_the_index_lists_only_the_agents_files(downloads_system):
    async with httpx.AsyncClient(base_url=downloads_system.gateway_url, timeout=10) as client:
        index = await client.get("/downloads/")
    assert index.status_code == 200, index.text
    assert [entry["name"] for entry in index.json()["files"]] == [EXECUTABLE, "assist-agent.whl"]
    assert index.json()["files"][1]["filename"] == WHEEL  # the newest wheel, not the one left behind
    for name in [*DECOYS, OLD_WHEEL, "secret"]:
        assert name not in index.text


async def test_no_other_name_and_no_path_outside_the_directory_is_served(downloads_system):
    url = downloads_system.gateway_url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert (await client.get(f"/downloads/{EXECUTABLE}")).content == b"\x7fELF agent"
        assert (await client.get("/downloads/assist-agent.whl")).content == b"PK wheel"
        for name in [*DECOYS, OLD_WHEEL, "secret.txt", "assist-agent-linux-x86_64.exe", "assist-agent-plan9-x86_64",
                     "ASSIST-AGENT-LINUX-X86_64", f"{EXECUTABLE}%00", f"{EXECUTABLE}%2F..%2F..%2Fsecret.txt"]:
            answer = await client.get(f"/downloads/{name}")
            assert answer.status_code == 404, (name, answer.status_code)
            assert answer.headers["content-type"] == "application/problem+json", name
            assert SECRET not in answer.content, name
    for raw_path in ["/downloads/../secret.txt", "/downloads/..%2Fsecret.txt", "/downloads/%2e%2e%2fsecret.txt",
                     "/downloads/%2E%2E/secret.txt", "/downloads/..%5Csecret.txt", f"/downloads/{EXECUTABLE}/../../secret.txt",
                     "/downloads/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/downloads//etc/passwd"]:
        status, body = await _raw_get(url, raw_path)
        assert status in (400, 404), (raw_path, status)
        assert SECRET not in body and b"root:" not in body, raw_path


def test_the_executable_ignores_python_modules_planted_beside_it_or_on_pythonpath(tmp_path_factory, tmp_path):
    """T48: the customer runs the downloaded agent from Downloads, where anything else downloaded also lands. A
    module there named like one the agent imports, or on a PYTHONPATH/PYTHONSTARTUP the environment sets, must not
    run inside it: the executable's Python reads only its own bundle."""
    executable = built_agent_dist(tmp_path_factory.mktemp("agent-dist")) / executable_name()
    planted = tmp_path / "Downloads"
    planted.mkdir()
    payload = "import pathlib; pathlib.Path(__file__).with_name('ran').write_text(__name__); raise SystemExit(99)\n"
    for module in ("argparse", "assist_agent", "websockets", "asyncio", "sitecustomize", "usercustomize"):
        (planted / f"{module}.py").write_text(payload)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(planted),
           "PYTHONSTARTUP": str(planted / "argparse.py"), "PYTHONUSERBASE": str(planted)}
    result = subprocess.run([str(executable), "--help"], cwd=planted, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--gateway" in result.stdout, result.stderr
    assert not (planted / "ran").exists(), (planted / "ran").read_text()
