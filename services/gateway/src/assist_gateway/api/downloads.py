"""`GET /downloads/`: the customer-side agent, as built by `make agent` (or `make run`, which builds it).

What is offered lives in `ASSIST_AGENT_DIST_DIR` (default `dist`, relative to where the gateway runs, the
repository root under `make run`):

- `/downloads/assist-agent-<system>-<machine>` (e.g. `assist-agent-linux-x86_64`, `assist-agent-windows-amd64.exe`):
  the one-file executable for a computer without Python, one per platform it has been built for;
- `/downloads/assist-agent.whl`: the newest `assist_agent-*.whl`, saved under its versioned name (pip accepts only
  that), also served at that versioned name so `pip install <url>` works in one command.

`/downloads/` lists them as JSON (the customer page reads it to offer the visitor's platform). Only those names
are ever served: a name is checked against their patterns before the directory is looked at, so no other file of
the directory, and nothing outside it, can be asked for. 404 problem+json for anything not (yet) built.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from assist_platform.problem_docs import problem_responses
from assist_platform.problems import Problem
from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..schemas import DownloadsOut
from .deps import SettingsDep

router = APIRouter(tags=["downloads"])

WHEEL_ALIAS = "assist-agent.whl"
WHEEL_PATTERN = re.compile(r"assist_agent-[0-9][0-9A-Za-z.+_]*-py3-none-any\.whl")
EXECUTABLE_PATTERN = re.compile(r"assist-agent-(linux|darwin|windows)-(x86_64|amd64|arm64|aarch64)(\.exe)?")
EXECUTABLE_TYPE = "application/octet-stream"
WHEEL_TYPE = "application/zip"  # a wheel is a zip archive (PEP 427)


def newest_agent_wheel(directory: Path) -> Path | None:
    wheels = [path for path in directory.glob("assist_agent-*.whl") if WHEEL_PATTERN.fullmatch(path.name)]
    return max(wheels, key=lambda path: path.stat().st_mtime) if wheels else None


def executables(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("assist-agent-*")
                  if EXECUTABLE_PATTERN.fullmatch(path.name) and path.is_file())


@lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    """The checksum the customer can compare, computed once per built file (keyed by its mtime and size)."""
    stat = path.stat()
    return _sha256(str(path), stat.st_mtime_ns, stat.st_size)


def _entry(path: Path, url_name: str, kind: str, platform: str | None) -> dict:
    return {"name": url_name, "url": f"/downloads/{url_name}", "filename": path.name, "kind": kind,
            "platform": platform, "size": path.stat().st_size, "sha256": sha256(path)}


@router.get("/downloads", include_in_schema=False)
@router.get("/downloads/", response_model=DownloadsOut, response_model_exclude_unset=True)
async def downloads_index(settings: SettingsDep) -> dict:
    directory = settings.assist_agent_dist_dir
    files = []
    for executable in executables(directory):
        system, machine, _ = EXECUTABLE_PATTERN.fullmatch(executable.name).groups()
        files.append(_entry(executable, executable.name, "executable", f"{system}-{machine}"))
    wheel = newest_agent_wheel(directory)
    if wheel is not None:
        files.append(_entry(wheel, WHEEL_ALIAS, "wheel", None) | {"versioned_url": f"/downloads/{wheel.name}"})
    return {"files": files}


def _not_built(name: str) -> Problem:
    # The name is not echoed: the answer says nothing about what the directory holds beyond /downloads/.
    return Problem(404, "Not found", "This file is not offered by this server (the agent is built by `make agent`; "
                   "/downloads/ lists what is).")


@router.get(
    "/downloads/{name}", response_class=FileResponse,
    responses={
        200: {"description": "The file, as an attachment.", "content": {
            EXECUTABLE_TYPE: {"schema": {"type": "string", "format": "binary"}},
            WHEEL_TYPE: {"schema": {"type": "string", "format": "binary"}},
        }},
        **problem_responses(404, s404="This file is not offered (not built, or not a name offered)."),
    },
)
async def download(name: str, settings: SettingsDep) -> FileResponse:
    directory = settings.assist_agent_dist_dir
    if name == WHEEL_ALIAS or WHEEL_PATTERN.fullmatch(name):
        wheel = newest_agent_wheel(directory)
        # Only the newest wheel: an older version left in the directory is not offered.
        if wheel is None or name not in (WHEEL_ALIAS, wheel.name):
            raise _not_built(name)
        # Saved under the versioned file name, so `pip install` on the customer's computer accepts the download.
        return FileResponse(wheel, media_type=WHEEL_TYPE, filename=wheel.name)
    if EXECUTABLE_PATTERN.fullmatch(name):
        executable = directory / name
        if not executable.is_file():
            raise _not_built(name)
        return FileResponse(executable, media_type=EXECUTABLE_TYPE, filename=name)
    raise _not_built(name)
