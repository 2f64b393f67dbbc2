"""Step-up consent at the agent (issue #16): a consultant's request for more is shown to the customer, who answers
with Y or N; only the gateway's `approved` notice for the very request shown as pending widens the agent, and a
`scopes` message can add nothing else."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest

from assist_agent import framing, scopes
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.platforms.keys import KeyWatcher
from assist_agent.status import StatusLine, describe, display_width
from assist_agent.terminal_text import one_line

from agent_side import GatewaySide, no_control_characters

REQUEST_ID = "0b7f6a0e-4f7e-4b8e-9d43-2f1c5a7d9e11"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1HYour Bank's Security Team\r\n\x9b31m\u202e\x7f"


def _request(status: str = "pending", request_id: str = REQUEST_ID, **fields) -> dict:
    return {"type": "scope_request", "request_id": request_id, "scopes": ["control"],
            "reason": "to install the printer driver", "requested_by": "maria", "status": status,
            "requested_at": "2025-05-01T10:00:00Z",
            "decided_at": None if status == "pending" else "2025-05-01T10:01:00Z", **fields}


def _agent(language: str = "en", stream=None) -> tuple[Agent, io.StringIO]:
    stream = stream or io.StringIO()
    return Agent(gateway="http://127.0.0.1:1", code="123456789",
                 status=StatusLine(stream, Messages(language))), stream


@pytest.fixture
async def viewer():
    """An agent attached with `view` only, on a running loop, with a socket that records the text frames sent."""
    agent, stream = _agent()
    agent._loop = asyncio.get_running_loop()
    agent._ws = GatewaySide()
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"],
                             "consultant": "maria"})
    agent.stream = stream
    return agent


def _status_lines(written: str) -> list[str]:
    """The status lines written (off a terminal, a line each): the shell opened at `peer_joined` may write between."""
    return [line for line in written.splitlines() if line.endswith("to end press Q")]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_reason_is_shown_as_one_line_without_escape_sequences():
    shown = one_line(ESCAPES + " please")
    assert shown == "Your Bank's Security Team ?? please"  # line breaks made spaces, sequences removed whole
    assert no_control_characters(shown)
    assert one_line("a\tb\n\nc") == "a b c"
    assert len(one_line("x" * 10_000, limit=500)) == 500


async def test_a_pending_request_is_shown_with_who_what_why_and_the_keys_and_its_reason_made_safe(viewer):
    await viewer._on_gateway(_request(reason=ESCAPES + " then reboot", requested_by="maria\x1b[2J"))
    written = viewer.stream.getvalue()
    assert "Consultant maria?[2J asks for permission: control (keyboard and mouse).\n" in written
    assert "Reason: Your Bank's Security Team ?? then reboot\n" in written
    assert "Press Y to allow, N to refuse.\n" in written
    assert "asks to control: Y/N | to end press Q" in written  # the status line says so too, until answered
    assert no_control_characters(written)
    assert viewer.scope_request.request_id == REQUEST_ID and viewer.scopes == frozenset({"view"})


async def test_on_a_terminal_the_request_is_bold_and_carries_no_outside_escape_sequence():
    stream = io.StringIO()
    stream.isatty = lambda: True
    stream.fileno = lambda: (_ for _ in ()).throw(OSError("not a real terminal"))
    agent, _ = _agent(stream=stream)
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"]})
    await agent._on_gateway(_request(reason=ESCAPES))
    written = stream.getvalue()
    assert "\x1b[1mPress Y to allow, N to refuse.\x1b[0m" in written
    assert no_control_characters(re.sub(r"\x1b(\[[0-9;]*[rHKmA]|[78])|\r", "", written))


async def test_y_sends_the_decision_only_while_a_request_is_pending_and_widens_nothing_by_itself(viewer):
    await asyncio.to_thread(viewer.approve_request)  # the key thread, nothing pending: nothing happens
    await asyncio.to_thread(viewer.refuse_request)
    await _settle()
    assert viewer._ws.sent == []
    await viewer._on_gateway(_request())
    await asyncio.to_thread(viewer.approve_request)
    await _settle()
    assert [json.loads(frame) for frame in viewer._ws.sent] == [
        {"type": "scope_decision", "request_id": REQUEST_ID, "approve": True}]
    assert len(viewer._ws.sent[0].encode()) < 200
    assert "Allowing control (keyboard and mouse); waiting for confirmation…" in viewer.stream.getvalue()
    # The consent service decides: until the gateway's `approved` notice the consultant may only watch.
    assert viewer.scopes == frozenset({"view"}) and scopes.refusal(framing.INPUT, viewer.channels.scopes)
    await asyncio.to_thread(viewer.approve_request)  # a second key for the same request: one answer only
    await asyncio.to_thread(viewer.refuse_request)
    await _settle()
    assert len(viewer._ws.sent) == 1


async def test_n_sends_a_refusal(viewer):
    await viewer._on_gateway(_request())
    await asyncio.to_thread(viewer.refuse_request)
    await _settle()
    assert json.loads(viewer._ws.sent[0]) == {"type": "scope_decision", "request_id": REQUEST_ID, "approve": False}
    assert "Refusing control (keyboard and mouse)…" in viewer.stream.getvalue()


async def test_an_answer_that_could_not_be_sent_may_be_given_again(viewer):
    viewer._ws = None  # between connections
    await viewer._on_gateway(_request())
    viewer.approve_request()
    await _settle()
    assert "Your answer could not be sent: press Y or N again." in viewer.stream.getvalue()
    viewer._ws = GatewaySide()
    viewer.approve_request()
    await _settle()
    assert len(viewer._ws.sent) == 1


async def test_the_approved_notice_of_the_pending_request_widens_and_an_unknown_id_does_not(viewer):
    # An approval of a request never shown here widens nothing, even with `scopes` following it.
    await viewer._on_gateway(_request("approved"))
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})
    assert viewer.scopes == frozenset({"view"}) and viewer.approved_step_up == frozenset()
    await viewer._on_gateway(_request())
    await viewer._on_gateway(_request("approved", request_id="11111111-2222-3333-4444-555555555555"))
    await viewer._on_gateway(_request("approved", session_id="B"))  # our request's id, another session
    assert viewer.scopes == frozenset({"view"}) and viewer.scope_request is not None
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})  # before the notice: not yet
    assert viewer.scopes == frozenset({"view"})
    await viewer._on_gateway(_request("approved"))
    assert viewer.scopes == frozenset({"view", "control"}) == viewer.channels.scopes
    assert scopes.refusal(framing.INPUT, viewer.channels.scopes) is None
    assert viewer.scope_request is None and viewer.approved_step_up == frozenset({"control"})
    written = viewer.stream.getvalue()
    assert "You allowed maria: control (keyboard and mouse).\n" in written
    assert "Press C to take back control: the consultant can then only watch." in written
    assert "may view, control" in _status_lines(written)[-1]  # the status line tells the truth
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})  # after the notice: no change
    assert viewer.scopes == frozenset({"view", "control"})
    await viewer._on_gateway(_request("approved"))  # told twice: nothing more
    assert viewer.scopes == frozenset({"view", "control"})


async def test_an_approval_widens_only_by_what_the_customer_was_shown(viewer):
    await viewer._on_gateway(_request(scopes=["control", "files", "admin"]))
    await viewer._on_gateway(_request("approved", scopes=["view", "control", "files", "admin", "clipboard"]))
    assert viewer.scopes == frozenset({"view", "control", "files"})  # never a scope unknown here or not shown
    agent, _ = _agent()
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": []})
    await agent._on_gateway(_request())
    await agent._on_gateway(_request("approved", scopes=["view"]))  # the notice must name what was asked
    assert agent.scopes == frozenset() and agent.scope_request is None


async def test_a_scopes_message_cannot_widen_beyond_what_was_approved_and_a_withdrawn_scope_stays_withdrawn(viewer):
    await viewer._on_gateway(_request())
    await viewer._on_gateway(_request("approved"))
    await viewer._on_gateway({"type": "scopes", "scopes": ["view"]})  # taken back on the page
    assert viewer.scopes == frozenset({"view"}) and viewer.approved_step_up == frozenset()
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})
    assert viewer.scopes == frozenset({"view"})
    # A new request the customer approves brings it back; the C key takes it away again, for good.
    await viewer._on_gateway(_request(request_id="22222222-2222-2222-2222-222222222222"))
    await viewer._on_gateway(_request("approved", request_id="22222222-2222-2222-2222-222222222222"))
    assert viewer.scopes == frozenset({"view", "control"})
    viewer.take_back_control()
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})
    assert viewer.scopes == frozenset({"view"}) and scopes.refusal(framing.INPUT, viewer.channels.scopes)


async def test_a_refusal_changes_nothing_and_clears_the_request(viewer):
    await viewer._on_gateway(_request())
    await viewer._on_gateway(_request("refused"))
    assert viewer.scopes == frozenset({"view"}) and viewer.scope_request is None
    assert "You refused maria: control (keyboard and mouse). Nothing has changed.\n" in viewer.stream.getvalue()
    await viewer._on_gateway({"type": "scopes", "scopes": ["view", "control"]})
    await viewer._on_gateway(_request("approved"))  # answered already: nothing pending to approve
    assert viewer.scopes == frozenset({"view"})
    viewer.approve_request()
    await _settle()
    assert viewer._ws.sent == []
    assert "asks to control" not in _status_lines(viewer.stream.getvalue())[-1]


async def test_in_bulgarian():
    agent, stream = _agent("bg")
    agent._loop, agent._ws = asyncio.get_running_loop(), GatewaySide()
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"]})
    await agent._on_gateway(_request(reason="за драйвера на принтера"))
    agent.approve_request()
    await _settle()
    await agent._on_gateway(_request("approved"))
    await agent._on_gateway(_request(request_id="33333333-3333-3333-3333-333333333333"))
    await agent._on_gateway(_request("refused", request_id="33333333-3333-3333-3333-333333333333"))
    written = stream.getvalue()
    for line in ("Консултантът maria иска разрешение за: управление (клавиатура и мишка).",
                 "Причина: за драйвера на принтера",
                 "Натиснете Y, за да разрешите, или N, за да откажете.",
                 "иска да управлява: Y/N | за край натиснете Q",
                 "Разрешавате управление (клавиатура и мишка); изчаква се потвърждение…",
                 "Разрешихте на maria: управление (клавиатура и мишка).",
                 "Натиснете C, за да спрете управлението: консултантът ще продължи само да гледа.",
                 "Отказахте на maria: управление (клавиатура и мишка). Нищо не е променено."):
        assert line in written, line


@pytest.mark.parametrize("language", ["bg", "en"])
def test_a_pending_request_fits_the_status_line_and_the_way_to_end_stays(language):
    say = Messages(language)
    for width in (79, 40, 20):
        line = describe(consultant="Мария Константинова-Петрова " * 4, connected_since=0.0, scopes={"view"},
                        now=5.0, state="state.connected", messages=say, width=width, request={"control"})
        assert display_width(line) <= width and line.endswith(say("status.hotkey")), (width, line)
    line = describe(consultant="bob", connected_since=0.0, scopes={"view"}, now=5.0, messages=say, width=79,
                    request={"control"})
    assert "bob" in line and say("status.request", scopes=say("scope.control")) in line


def test_the_keys_y_and_n_answer_and_c_and_q_still_work():
    calls = []
    keys = KeyWatcher(lambda: calls.append("end"), on_control=lambda: calls.append("control"),
                      on_approve=lambda: calls.append("approve"), on_refuse=lambda: calls.append("refuse"))
    assert [keys.on_key(key) for key in "yYnNcCxq"] == [False] * 7 + [True]
    assert calls == ["approve", "approve", "refuse", "refuse", "control", "control", "end"]
    assert KeyWatcher(lambda: None).on_key("y") is False  # no request handling wired: nothing happens


@pytest.mark.parametrize(("language", "scopes", "said"), [
    ("en", ["view"], "You allow the consultant: view (screen and terminal).\n"),
    ("bg", ["clipboard", "view", "files", "control"],
     "Разрешили сте на консултанта: преглед (екран и терминал), управление (клавиатура и мишка), файлове "
     "(изпращане и вземане, всеки файл с ваше одобрение), клипборд (текст, всеки път показан тук).\n"),
])
async def test_the_whole_consent_is_said_once_in_words_at_the_first_attach(language, scopes, said):
    """The status line has room for short names only (80 columns cut them): the customer reads all of it once."""
    agent, stream = _agent(language)
    attached = {"type": "attached", "session_id": "A", "resume_token": "t", "scopes": scopes, "consultant": "maria"}
    await agent._on_gateway(attached)
    await agent._on_gateway({**attached, "resume_token": None})  # a resumed attach says nothing again
    assert stream.getvalue().count(said) == 1
