"""Clipboard text end to end (issue #17): the real `assist agent` on an Xvfb display of its own, whose X clipboard
is read and set with xclip as any application of the customer's would; the consultant speaks channel 4 on the
relay. A put lands in the customer's clipboard and is shown in the agent; a get waits for the customer's S (or D)
in the agent; without the `clipboard` scope the gateway refuses channel 4; the customer takes the clipboard back
while a request waits and it is cancelled, nothing sent."""

from __future__ import annotations

import uuid

import httpx
import pytest
from agent_flow import missing_x_tools
from clipboard_flow import answer, barrier, clipboard_session, gateway_refusal, send
from public_api import bearer
from x_clipboard import copy as copy_on_the_display, missing_xclip, pasted as x_clipboard

from assist_agent import framing

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or ""),
    pytest.mark.skipif(missing_xclip() is not None, reason=missing_xclip() or ""),
]

SCOPES = ("view", "control", "clipboard")
PUT = "Здравейте! Изпълнете в терминала:\nsudo systemctl restart cups\t# принтерът"
SET_BY_THE_CUSTOMER = "Грешка 0x80070005: достъпът е отказан\nC:\\Windows\\System32\\spool"


async def test_a_put_of_bulgarian_text_lands_in_the_customers_clipboard_and_is_shown_in_the_agent(
        start_system, tmp_path):
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=SCOPES) as (agent, consultant, display):
        assert "clipboard" in consultant.agent_hello["channels"]
        put = str(uuid.uuid4())
        await send(consultant, {"type": "clipboard.put", "id": put, "text": PUT})
        assert await answer(consultant) == {"type": "clipboard.done", "id": put}
        assert x_clipboard(display) == PUT
        await agent.wait_for_log(f'[clipboard] maria put {len(PUT)} characters into your clipboard: '
                                 f'"Здравейте! Изпълнете в терминала: …"', timeout=20)


async def test_the_customers_clipboard_reaches_the_consultant_only_after_the_customer_presses_s(
        start_system, tmp_path):
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=SCOPES) as (agent, consultant, display):
        copy_on_the_display(display, SET_BY_THE_CUSTOMER)
        get = str(uuid.uuid4())
        await send(consultant, {"type": "clipboard.get", "id": get})
        await agent.wait_for_log("[clipboard] maria asks for the text in your clipboard.")
        await agent.wait_for_log("Press S to send it, D to refuse.")
        assert "Грешка" not in agent.log()  # nothing of it is shown before the answer: the screen is shared
        busy = str(uuid.uuid4())  # one request at a time
        await send(consultant, {"type": "clipboard.get", "id": busy})
        assert await answer(consultant) == {"type": "clipboard.refused", "id": busy, "reason": "busy"}

        agent.press(b"s")
        assert await answer(consultant) == {"type": "clipboard.text", "id": get, "text": SET_BY_THE_CUSTOMER}
        await agent.wait_for_log(f'[clipboard] You sent maria {len(SET_BY_THE_CUSTOMER)} characters from your '
                                 f'clipboard: "Грешка 0x80070005: достъпът е отказан …"')

        refused = str(uuid.uuid4())  # the next one the customer refuses with D
        await send(consultant, {"type": "clipboard.get", "id": refused})
        await agent.wait_for_log(f"clipboard get {refused} from maria: asking the customer")
        agent.press(b"d")
        assert await answer(consultant) == {"type": "clipboard.refused", "id": refused, "reason": "declined"}
        await agent.wait_for_log("[clipboard] You refused: nothing was sent.")


async def test_without_the_clipboard_scope_the_gateway_refuses_channel_4_before_the_agent(
        start_system, tmp_path):
    async with clipboard_session(start_system(shared=True), tmp_path,
                                 scopes=("view", "control")) as (agent, consultant, display):
        copy_on_the_display(display, "the customer's password")
        assert "clipboard" not in consultant.agent_hello["channels"]
        await send(consultant, {"type": "clipboard.get", "id": str(uuid.uuid4())})
        refused = await gateway_refusal(consultant)
        assert refused["what"] == "clipboard" and refused["reason"] == (
            "the customer's consent does not include clipboard")
        # Keystrokes sent after it come back through the shell: the refused frame, before them, reached nothing.
        await barrier(consultant, "after")
        assert "[clipboard]" not in agent.log() and not consultant.pending.get(framing.CLIPBOARD)
        assert x_clipboard(display) == "the customer's password"


async def test_the_customer_takes_the_clipboard_back_while_a_request_waits_and_nothing_is_sent(
        start_system, tmp_path):
    system = start_system(shared=True)
    async with clipboard_session(system, tmp_path, scopes=SCOPES) as (agent, consultant, display):
        copy_on_the_display(display, "a secret the customer keeps")
        await send(consultant, {"type": "clipboard.get", "id": str(uuid.uuid4())})
        await agent.wait_for_log("Press S to send it, D to refuse.")
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
            taken = await customer.delete(f"/api/v1/sessions/{consultant.session_id}/scopes/clipboard",
                                          headers=bearer(consultant.customer_token))
        assert taken.status_code == 200 and taken.json()["scopes"] == ["view", "control"], taken.text
        await agent.wait_for_log("The request for your clipboard is cancelled: the clipboard is no longer allowed.")
        agent.press(b"s")  # too late: the request is gone, S sends nothing
        await barrier(consultant, "after")
        await send(consultant, {"type": "clipboard.get", "id": str(uuid.uuid4())})
        assert (await gateway_refusal(consultant))["what"] == "clipboard"
        assert not consultant.pending.get(framing.CLIPBOARD)
        assert "a secret" not in agent.log()
