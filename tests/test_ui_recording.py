"""A recorded session played back in chromium (issue #19): a relayed session (an agent's socket sending terminal
output and a screen, the consultant's socket, the customer's chat, the customer's terminate) is recorded by the
gateway; the customer's page offers the replay, whose link opens the playback page; there the player shows the
terminal text of each moment (seeking by the events and playing on), the screen canvas draws the recorded picture on
the player's clock, and the events are listed. On a 320 px phone nothing is wider than the screen. The customer
erases it from the page, after a confirmation; a bad link is a page, not JSON; the consultant replays it from the
console's history.
"""

from __future__ import annotations

import json

import httpx
import pytest
from assist_gateway.web.i18n import MESSAGES
from browser import checked_page, chromium, new_page, staff_login
from public_api import bearer
from recording_flow import PASSWORD, active_session, index_when, player_shows, player_text, until_recording
from recording_writer import solid_tile_frame
from relay_flow import next_binary

pytestmark = pytest.mark.e2e

BG = MESSAGES["bg"]
STORE = "assist.customer.session"
RED = (230, 20, 20)


async def recorded_session(base: str, consultant_name: str):
    """A session relayed and recorded: the agent's first words and a red screen, a chat message once they are kept,
    then its second words once the chat is kept, then the customer's terminate. (request, the cast's output times)."""
    request, agent, consultant = await active_session(base, consultant_name)
    customer = bearer(request.customer_token)
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await agent.send(b"\x01\x1b[2J\x1b[Hfirst words\r\n")
        for message in solid_tile_frame(1, 128, 64, RED):
            await agent.send(b"\x02" + message)
        assert (await next_binary(consultant)).startswith(b"\x01")
        await index_when(client, request, lambda body: body["terminal"]["has_output"] and body["has_screen"],
                         what="the first words and the screen recorded")
        posted = await client.post(f"/api/v1/sessions/{request.session_id}/chat/messages", headers=customer,
                                   json={"text": "Виждате ли екрана?"})
        assert posted.status_code == 201, posted.text
        await index_when(client, request, lambda body: any(e["type"] == "chat" for e in body["events"]),
                         what="the chat message recorded")
        await agent.send(b"\x01second words\r\n")
        while (await next_binary(consultant)) != b"\x01second words\r\n":
            pass  # the screen's frames first
        assert (await client.post(f"/api/v1/sessions/{request.session_id}/terminate", headers=customer)
                ).status_code == 200
        await until_recording(client, request, "closed")
        cast = await client.get(f"/api/v1/sessions/{request.session_id}/recording/terminal.cast", headers=customer)
    await agent.close()
    await consultant.close()
    outputs = [(t, data) for t, code, data in map(json.loads, cast.text.splitlines()[1:]) if code == "o"]
    first = next(t for t, data in outputs if "first words" in data)
    second = next(t for t, data in outputs if "second words" in data)
    assert first < second
    return request, first, second


async def test_a_recorded_session_plays_back_on_one_timeline_and_its_customer_erases_it(start_system):
    system = start_system(shared=True)
    system.add_user("consultant", "rita", PASSWORD)
    base = system.gateway_url
    request, first, second = await recorded_session(base, "rita")

    async with checked_page(expected="status of 410") as page:  # the erased recording's page, at the end
        # The customer's page, after the end: "Replay / download" mints a link and opens the playback page.
        await page.goto(f"{base}/")
        # As the request page keeps the session it made (customer.js `save`): this browser is the customer's.
        await page.evaluate("([key, value]) => localStorage.setItem(key, value)", [STORE, json.dumps({
            "session_id": request.session_id, "session_code": request.session_code,
            "customer_token": request.customer_token,
            "service": {"code": "consultation", "unitSeconds": 60, "unitPrice": 1, "minimumUnits": 1}})])
        await page.goto(f"{base}/")
        await page.wait_for_selector("#recording-box[data-status='closed']")
        assert await page.inner_text("#recording-replay") == BG["rp_customer_replay"]
        await page.click("#recording-replay")
        await page.wait_for_url(f"{base}/recordings/{request.session_id}?ticket=*")
        await page.wait_for_selector("#recording[data-state='ready']")

        # The events, listed with their offsets: the chat came between the first words and the second.
        types = await page.eval_on_selector_all("#event-list li", "items => items.map(i => i.dataset.type)")
        assert {"recording_started", "scopes", "chat", "end"} <= set(types), types
        end = page.locator("#event-list li[data-type='end']")
        assert BG["rv_end"].format(reason=BG["cs_reason_customer_terminated"]) in await end.inner_text()
        chat = page.locator("#event-list li[data-type='chat']")
        chat_offset = float(await chat.get_attribute("data-offset"))
        assert first < chat_offset < second, (first, chat_offset, second)
        assert "Виждате ли екрана?" in await chat.inner_text()

        # Choosing the chat seeks the player there: the first words are on the terminal, the second not yet.
        await chat.locator("button").click()
        await page.wait_for_function(
            "t => Math.abs(Number(document.getElementById('recording').dataset.at) - t) < 0.3", arg=chat_offset)
        await player_shows(page, "first words")
        assert "second words" not in await player_text(page)
        assert await chat.get_attribute("aria-current") == "true"
        # The screen canvas follows the same clock: the red picture recorded before the chat is drawn.
        await page.wait_for_function("""() => {
            const canvas = document.getElementById('screen-canvas');
            if (Number(canvas.dataset.drawn) === 0 || canvas.width !== 128) return false;
            const [r, g, b] = canvas.getContext('2d').getImageData(70, 30, 1, 1).data;
            return r === 230 && g === 20 && b === 20;
        }""")
        # Played on, the player reaches the second words at their time.
        await page.click("#player .ap-player")
        await player_shows(page, "second words", timeout=15000)
        assert float(await page.get_attribute("#recording", "data-at")) >= second - 0.3

        # The downloads: the asciicast and the report, in the page's language.
        async with page.expect_download() as cast:
            await page.click("#download-cast")
        assert (await cast.value).suggested_filename == f"session-{request.session_id}.cast"
        async with page.expect_download() as report:
            await page.click("#download-report")
        assert (await report.value).suggested_filename == f"session-report-{request.session_id}.md"
        async with page.expect_download() as archive:
            await page.click("#download-archive")
        assert (await archive.value).suggested_filename == f"session-{request.session_id}.zip"

        # On a phone: nothing wider than the screen.
        await page.set_viewport_size({"width": 320, "height": 640})
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 320

        # The customer erases it here (their token is in this browser; the link alone could not), after confirming.
        await page.click("#erase-recording")
        await page.click("dialog.confirm button[data-answer='yes']")
        await page.wait_for_selector("#recording[data-state='erased']")
        assert await page.inner_text("#erase-status") == BG["rp_erased_done"]
        # The link now leads to a page saying so.
        await page.reload()
        assert await page.inner_text("#error-detail") == BG["rp_erased"]
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        gone = await client.get(f"/api/v1/sessions/{request.session_id}/recording",
                                headers=bearer(request.customer_token))
        assert (gone.status_code, gone.json()["code"]) == (410, "recording_erased")


async def test_the_consultant_replays_from_the_console_and_a_bad_link_is_a_page(start_system):
    system = start_system(shared=True)
    system.add_user("consultant", "vera", PASSWORD)
    base = system.gateway_url
    request, first, _second = await recorded_session(base, "vera")
    errors: list[str] = []
    async with chromium() as browser:
        page = await new_page(browser, errors=errors)
        await staff_login(page, base, "/console", "vera", PASSWORD)
        link = page.locator(f"#history tr[data-session-id='{request.session_id}'] a.recording-link")
        assert await link.inner_text() == BG["rp_link"]
        await link.click()
        await page.wait_for_selector("#recording[data-state='ready']")
        assert await page.locator("#erase-box").count() == 0  # staff erase nothing
        await page.locator("#event-list li[data-type='end'] button").click()
        await player_shows(page, "second words")

        stranger = await new_page(browser, errors=[])
        answer = await stranger.goto(f"{base}/recordings/{request.session_id}?ticket=1.{'A' * 43}")
        assert answer.status == 403 and answer.headers["content-type"].startswith("text/html")
        assert await stranger.inner_text("#error-title") == BG["rp_link_invalid_title"]
    assert errors == []
