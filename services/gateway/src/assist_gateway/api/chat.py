"""The session's chat (issue #17): its customer and its assigned consultant write; whoever may read the session
reads it (an overseer's read audited, as for the session itself). New messages also reach the agent, the console
and observers as the gateway's `chat` text frames (relay/hub.py)."""

from __future__ import annotations

from typing import Annotated

from assist_platform.problem_docs import problem_responses
from fastapi import APIRouter, Query

from ..schemas import ChatIn, ChatMessageOut, ChatMessagesOut
from ..service import chat_history, post_chat
from .deps import RuntimeDep, SessionCallerDep, SessionReaderDep

router = APIRouter(tags=["chat"])


@router.get("/sessions/{session_id}/chat", response_model=ChatMessagesOut,
            responses=problem_responses(401, 403, 404, 422, 503))
async def chat(session_id: str, reader: SessionReaderDep, runtime: RuntimeDep,
               # Bounded: a seq past any database's integers was a 500 (SQLite's overflow), not an empty page.
               after: Annotated[int, Query(ge=0, le=2**31 - 1, description="only messages with a greater seq")] = 0,
               ) -> dict:
    """The session's messages in order (at most 500 after `after`): for its customer, its assigned consultant,
    supervisors and admins; kept after the end."""
    return await chat_history(runtime, session_id=session_id, after=after)


# Its own path: one method per path keeps a 405's Allow header true (Starlette names only the first route's methods).
@router.post("/sessions/{session_id}/chat/messages", status_code=201, response_model=ChatMessageOut,
             responses=problem_responses(401, 403, 404, 409, 422, 503,
                                         s409="The session has ended (`code`: session_ended): its chat is closed."))
async def write(session_id: str, body: ChatIn, caller: SessionCallerDep, runtime: RuntimeDep) -> dict:
    """A message of the customer (from the request on, while they wait too) or of the assigned consultant."""
    return await post_chat(runtime, session_id=session_id, text=body.text, staff=caller.staff)
