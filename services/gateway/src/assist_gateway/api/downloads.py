"""`GET /downloads/assist-agent.whl`: the customer-side agent, as built by `make agent`.

The newest `assist_agent-*.whl` in `ASSIST_AGENT_DIST_DIR` (default `dist`, relative to where the gateway runs,
the repository root under `make run`); 404 problem+json until it has been built.
"""

from __future__ import annotations

import os
from pathlib import Path

from assist_platform.problems import Problem
from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["downloads"])


def newest_agent_wheel(directory: Path) -> Path | None:
    wheels = sorted(directory.glob("assist_agent-*.whl"), key=lambda path: path.stat().st_mtime)
    return wheels[-1] if wheels else None


@router.get("/downloads/assist-agent.whl")
async def agent_wheel() -> FileResponse:
    wheel = newest_agent_wheel(Path(os.environ.get("ASSIST_AGENT_DIST_DIR") or "dist"))
    if wheel is None:
        raise Problem(404, "Not found", "The agent has not been built on this server (run `make agent`).")
    # The versioned file name, so `pip install` on the customer's computer accepts the download.
    return FileResponse(wheel, media_type="application/octet-stream", filename=wheel.name)
