"""A session's chat (issue #17): open from the request until the end, numbered per session, kept, published."""

from __future__ import annotations

import pytest
from assist_platform.envelope import CloudEvent
from assist_platform.problems import Problem
from assist_session import domain
from assist_session.domain import InvalidInput


async def post(call, session_id: str, text: str, role: str = "customer", author: str = "Иван Петров") -> dict:
    return await call("cmd.session.chat.post", {"session_id": session_id, "role": role, "author": author,
                                                "text": text})


async def test_messages_are_numbered_kept_and_published_from_the_request_on(call, request_help, session_events):
    session_id = (await request_help())["session_id"]
    first = await post(call, session_id, "  Здравейте, принтерът не печата.\x1b[2J  ")
    assert (first["seq"], first["role"], first["text"]) == (1, "customer", "Здравейте, принтерът не печата.[2J")
    second = await post(call, session_id, "Моля, изчакайте минута.", role="consultant", author="elena")
    assert second["seq"] == 2
    listed = await call("cmd.session.chat.list", {"session_id": session_id})
    assert [(m["seq"], m["author"]) for m in listed["messages"]] == [(1, "Иван Петров"), (2, "elena")]
    later = await call("cmd.session.chat.list", {"session_id": session_id, "after": 1})
    assert [m["seq"] for m in later["messages"]] == [2]
    view = await call("cmd.session.get", {"session_id": session_id})
    assert view["chat_seq"] == 2 and view["status"] == "waiting"
    posted = [CloudEvent.from_bytes(msg.data) for msg in await session_events(session_id)]
    chats = [event.data for event in posted if event.type == "session.chat_posted"]
    assert [(c["seq"], c["text"]) for c in chats] == [(1, first["text"]), (2, "Моля, изчакайте минута.")]


async def test_the_chat_closes_with_the_session_and_refuses_empty_or_unknown(call, request_help, end_session):
    session_id = (await request_help())["session_id"]
    with pytest.raises(Problem) as empty:
        await post(call, session_id, " \n\t ")
    assert empty.value.status == 422
    with pytest.raises(Problem) as unknown:
        await post(call, "no-such-session", "hello")
    assert unknown.value.status == 404
    await post(call, session_id, "Благодаря!")
    await end_session(session_id, ended_by="customer", end_reason="customer_terminated")
    with pytest.raises(Problem) as closed:
        await post(call, session_id, "one more thing")
    assert closed.value.status == 409 and closed.value.extra.get("code") == "session_ended"
    kept = await call("cmd.session.chat.list", {"session_id": session_id})
    assert [m["text"] for m in kept["messages"]] == ["Благодаря!"]  # kept with the session after its end


def test_a_message_keeps_its_lines_and_loses_control_characters():
    assert domain.chat_text(" a\x07b\nc\td\u2028 ") == "ab\nc\td"
    with pytest.raises(InvalidInput):
        domain.chat_text("\x00\x1b")
    with pytest.raises(InvalidInput):
        domain.chat_text("я" * 2001)
