"""A session with the real agent process, recorded and played back (issue #19): what the consultant typed and the
customer's shell answered is in the asciicast with the terminal's size and its times; the customer's terminate in the
middle of it ends the recording with the session (closed, its last event the end); and in chromium the playback page
shows on the terminal what it showed at each moment, not what came after."""

from __future__ import annotations

import io
import json
import zipfile
from types import SimpleNamespace

import httpx
import pytest
from agent_flow import PASSWORD, start_session
from browser import checked_page, staff_login
from public_api import bearer
from recording_flow import index_when, player_shows, player_text, until_recording

from assist_agent import console

pytestmark = pytest.mark.e2e

async def test_a_session_with_the_real_agent_is_recorded_cut_by_the_terminate_and_played_back(
        start_system, tmp_path, agents):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"))
    agents.append(agent)
    await agent.wait_for_log("recorded")  # the customer is told, in the agent's window
    session_id, customer = consultant.session_id, bearer(consultant.customer_token)
    request = SimpleNamespace(session_id=session_id, customer_token=consultant.customer_token)  # recording_flow's

    await consultant.next_frame(1)  # the shell's prompt: it reads from here on
    await consultant.send(console.resize(80, 24))
    await consultant.send(console.keystrokes("echo first-$((6 * 7))\n"))
    await consultant.terminal_until("first-42")
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        await index_when(client, request, lambda index: index["terminal"]["has_output"],
                         what="the first answer recorded")
        posted = await client.post(f"/api/v1/sessions/{session_id}/chat/messages", headers=customer,
                                   json={"text": "Готово ли е?"})
        assert posted.status_code == 201, posted.text
        await index_when(client, request, lambda index: any(e["type"] == "chat" for e in index["events"]),
                         what="the chat recorded")
        await consultant.send(console.keystrokes("echo second-$((7 * 7))\n"))
        await consultant.terminal_until("second-49")

        # The customer ends it while the shell runs and the recording is open: both end here.
        ended = await client.post(f"/api/v1/sessions/{session_id}/terminate", headers=customer)
        assert ended.status_code == 200, ended.text
        await agent.wait_exit()
        recording = await until_recording(client, request, "closed")
        assert recording["ended_at"] is not None and recording["delete_after"] is not None
        index = (await client.get(f"/api/v1/sessions/{session_id}/recording", headers=customer)).json()
        assert index["events"][-1]["type"] == "end", index["events"][-3:]
        cast = await client.get(f"/api/v1/sessions/{session_id}/recording/terminal.cast", headers=customer)
        assert cast.status_code == 200 and cast.headers["content-type"].startswith("application/x-asciicast")
        # The whole recording as one file: the same asciicast, the index with its events, the screen, the report.
        archive = await client.get(f"/api/v1/sessions/{session_id}/recording/archive.zip?lang=en", headers=customer)
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        assert f'filename="session-{session_id}.zip"' in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as kept:
        assert sorted(kept.namelist()) == ["recording.json", "report.md", "screen.rec", "terminal.cast"]
        assert kept.read("terminal.cast").decode() == cast.text
        assert json.loads(kept.read("recording.json"))["events"] == index["events"]
        assert "## " in kept.read("report.md").decode() and "maria" in kept.read("report.md").decode()

    header, *events = map(json.loads, cast.text.splitlines())
    assert (header["version"], header["width"], header["height"]) == (2, 80, 24)
    typed = "".join(data for _t, code, data in events if code == "i")
    assert "echo first-$((6 * 7))\n" in typed and "echo second-$((7 * 7))\n" in typed
    outputs = [(t, data) for t, code, data in events if code == "o"]
    assert [t for t, _ in outputs] == sorted(t for t, _ in outputs)
    first = next(t for t, data in outputs if "first-42" in data)
    second = next(t for t, data in outputs if "second-49" in data)
    chat = next(e["offset"] for e in index["events"] if e["type"] == "chat")
    assert first < chat < second

    # The assigned consultant replays it: at the chat's moment the first answer is there and the second not yet.
    async with checked_page() as page:
        await staff_login(page, system.gateway_url, f"/recordings/{session_id}", "maria", PASSWORD)
        await page.wait_for_selector("#recording[data-state='ready']")
        await page.locator("#event-list li[data-type='chat'] button").click()
        await page.wait_for_function(
            "t => Math.abs(Number(document.getElementById('recording').dataset.at) - t) < 0.3", arg=chat)
        await player_shows(page, "first-42")
        assert "second-49" not in await player_text(page)
        await page.locator("#event-list li[data-type='end'] button").click()
        await player_shows(page, "second-49")
