"""File transfers of a session (issue #17): what the relay saw of each (direction, name, size, SHA-256, status, how far
it got), for the customer's page, which shows every transfer, and for whoever may read the session. The transfers
themselves travel on the relay's channel 5 (relay/files.py)."""

from __future__ import annotations

from assist_platform.problem_docs import problem_responses
from fastapi import APIRouter

from ..schemas import FileTransfersOut
from ..service import file_transfers
from .deps import RuntimeDep, SessionReaderDep, SettingsDep

router = APIRouter(tags=["files"])


@router.get("/sessions/{session_id}/file-transfers", response_model=FileTransfersOut,
            responses=problem_responses(401, 403, 404, 422, 503))
async def transfers(session_id: str, reader: SessionReaderDep, runtime: RuntimeDep, settings: SettingsDep) -> dict:
    """The session's file transfers, oldest first: for its customer (their token), its assigned consultant,
    supervisors and admins (an overseer's read audited); kept after the end."""
    return {"session_id": session_id, "max_bytes": settings.file_transfer_max_bytes,
            "transfers": await file_transfers(runtime.database, session_id=session_id)}
