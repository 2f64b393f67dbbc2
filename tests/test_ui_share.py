"""The customer shows their screen from the request page, nothing installed (issue #18), in chromium whose fake
capture answers the browser's picker with a moving test picture (`browser.FAKE_CAPTURE`; the picture is as large as
the window: 1280×720 in a desktop window, 320×240 in a phone-sized one). A customer (Bulgarian) shares once the
consultant has the session open; the console shows the picture in a pane of its own, moving; the page holds at
320 px wide; the browser's own "Stop sharing" and a closed tab end it and the console is told; a terminate or a
withdrawn `view` stops the page's frames within the agent's bound (no picture the page sent after the 200 reaches
the consultant); the button is offered only while a consultant has the session and `view` holds.

The browser's own Stop is played as the browser plays it: the captured track ends and fires `ended` (a script's
`track.stop()` alone fires nothing). Screenshots: docs/screenshots/customer-share.png, customer-share-320px.png and
console-browser-share.png.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from assist_agent.tiles import ScreenDecoder
from assist_platform.testing import eventually
from browser import FAKE_CAPTURE, SCREENSHOTS, chromium, fill_request, new_page, staff_login
from phone_story import PHONE, STORE
from public_api import bearer, close_code, connect_consultant, login, next_control

pytestmark = pytest.mark.e2e

PASSWORD = "petya-pass-123"
DESKTOP = {"width": 1280, "height": 900}
BROWSER_SCREEN = 6
# Keeps the captured stream where the test can end it as the browser's own Stop does.
KEEP_CAPTURE = """(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getDisplayMedia) return;
  const pick = devices.getDisplayMedia.bind(devices);
  devices.getDisplayMedia = async (options) => { const stream = await pick(options); window.__capture = stream;
                                                 return stream; };
})()"""
BROWSER_STOP = """() => { const track = window.__capture.getVideoTracks()[0]; track.stop();
                          track.dispatchEvent(new Event('ended')); }"""
# A digest of the console's picture of the customer's browser (its pixels, as drawn).
SHARE_PIXELS = """() => { const c = document.getElementById('share-canvas');
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;
  for (let i = 0; i < data.length; i += 97) h = (h * 31 + data[i]) >>> 0; return `${c.width}x${c.height}:${h}`; }"""


async def _customer_asks(browser, base: str, *, errors: list[str], viewport=PHONE, lang: str = "bg"):
    """The request form filled and consented to, no agent run: (context, page, saved request)."""
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.add_init_script(KEEP_CAPTURE)
    await page.goto(f"{base}/?lang={lang}")
    await fill_request(page, name="Мария Иванова")
    await page.check("#consent")
    await page.click("#submit-request")
    await page.wait_for_selector("#status-section", state="visible")
    saved = await page.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE}'))")
    return context, page, saved


async def _claim(base: str, session_id: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=15) as staff:
        token = await login(staff, "petya", PASSWORD)
        claimed = await staff.post(f"/api/v1/sessions/{session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    return token


async def _share(page) -> None:
    await page.wait_for_selector("#share-screen", state="visible", timeout=15000)
    await page.click("#share-screen")
    await page.wait_for_selector("#share-box[data-state='sharing']", timeout=15000)


async def _stats(page) -> dict:
    return await page.evaluate("() => { const s = window.AssistScreenShare.current.stats; "
                               "return {...s, sent: s.sent.slice()}; }")


async def test_the_customer_shares_from_the_phone_and_the_console_shows_it_apart(start_system):
    system = start_system(shared=True)
    system.add_user("consultant", "petya", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium(extra_args=FAKE_CAPTURE) as browser:
        # A desktop window (chromium's fake capture is as large as the window: 1280×720 here); 320 px wide later.
        phone, customer, saved = await _customer_asks(browser, base, errors=errors, viewport=DESKTOP)
        sid = saved["session_id"]
        assert await customer.is_hidden("#share-box")  # nobody has the request yet: nothing to show anyone
        await _claim(base, sid)
        console = await new_page(browser, errors=errors)
        await staff_login(console, base, "/console", "petya", PASSWORD)
        await console.goto(f"{base}/console/session/{sid}")
        await console.wait_for_selector("#session[data-attached='consultant']")
        assert await console.is_hidden("#share-pane")

        await _share(customer)
        assert (await customer.inner_text("#share-screen")) == "Споделете екрана си"
        assert "Споделяте екрана си с petya" in await customer.inner_text("#share-status")
        await console.wait_for_selector("#share-pane[data-share='picture']", timeout=15000)
        stats = await _stats(customer)
        size = await console.evaluate("() => [document.getElementById('share-canvas').width, "
                                      "document.getElementById('share-canvas').height]")
        assert size == [stats["width"], stats["height"]], (size, stats)
        assert await console.is_visible("#screen-source")  # the agent's pane says it is the agent's
        # No agent here: the state line says what the consultant sees, not that it waits for an agent.
        assert await console.inner_text("#relay-state") == "Клиентът показва екрана си от браузъра (без агент)"
        # The picture moves on the consultant's side: it is the customer's, live.
        first = await console.evaluate(SHARE_PIXELS)

        async def moved():
            return (await console.evaluate(SHARE_PIXELS)) != first or None

        await eventually(moved, what="the browser's picture to move in the console")
        async with httpx.AsyncClient(base_url=base, timeout=15) as customer_api:
            view = (await customer_api.get(f"/api/v1/sessions/{sid}", headers=bearer(saved["customer_token"]))).json()
        assert view["status"] == "active"  # the share started it, nothing installed
        assert (stats["width"], stats["height"]) == (1280, 720)
        await customer.locator("#share-box").scroll_into_view_if_needed()
        await customer.screenshot(path=str(SCREENSHOTS / "customer-share.png"))
        await customer.set_viewport_size(PHONE)
        width = await customer.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        await customer.locator("#share-box").scroll_into_view_if_needed()
        await customer.screenshot(path=str(SCREENSHOTS / "customer-share-320px.png"))
        await console.screenshot(path=str(SCREENSHOTS / "console-browser-share.png"))

        # The browser's own "Stop sharing": the page stops at once and the console is told.
        await customer.evaluate(BROWSER_STOP)
        await customer.wait_for_selector("#share-box[data-state='stopped'][data-stopped='browser']")
        await customer.wait_for_selector("#share-screen", state="visible")
        await console.wait_for_selector("#session[data-share='stopped']")
        assert "спря" in await console.inner_text("#share-note")
        assert await console.inner_text("#relay-state") == "Изчаква се агентът на клиента…"

        async def blank():
            return (await console.evaluate(SHARE_PIXELS)).endswith(":0") or None

        await eventually(blank, what="the console to clear the picture the customer stopped showing")

        # Shared again, then the tab is closed: the console is told too.
        await _share(customer)
        await console.wait_for_selector("#session[data-share='active']")
        await phone.close()
        await console.wait_for_selector("#session[data-share='stopped']", timeout=15000)
    assert errors == [], errors


@pytest.mark.parametrize("ending", ["terminate", "view withdrawn"])
async def test_an_ending_stops_the_pages_frames_within_the_agents_bound(start_system, ending):
    system = start_system(shared=True)
    system.add_user("consultant", "petya", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium(extra_args=FAKE_CAPTURE) as browser:
        context, customer, saved = await _customer_asks(browser, base, errors=errors, viewport=DESKTOP, lang="en")
        sid, customer_token = saved["session_id"], saved["customer_token"]
        token = await _claim(base, sid)
        consultant = await connect_consultant(base, sid, token)
        await next_control(consultant, "attached")
        await _share(customer)
        assert (await customer.inner_text("#share-stop")) == "Stop sharing"
        assert "You are sharing your screen" in await customer.inner_text("#share-status")
        assert (await next_control(consultant, "share"))["active"] is True
        decoder, begun = ScreenDecoder(), []  # the sequence numbers of the frame begins received

        async def collect() -> tuple[int | None, str]:
            try:
                while True:
                    message = await consultant.recv()
                    if isinstance(message, bytes):
                        assert message[0] == BROWSER_SCREEN, message[:2]
                        decoder.apply(message[1:])  # the page's zlib RGB tiles decode as the agent's do
                        if message[1] == 0:
                            begun.append(int.from_bytes(message[2:6], "big"))
            except Exception as closed:
                rcvd = getattr(closed, "rcvd", None)
                return (rcvd.code, rcvd.reason) if rcvd else (None, repr(closed))

        collecting = asyncio.create_task(collect())

        async def several_frames():
            return len(begun) >= 4 or None

        await eventually(several_frames, what="the page's pictures to reach the consultant")
        stats = await _stats(customer)
        assert (decoder.width, decoder.height) == (stats["width"], stats["height"]) and decoder.width > 0
        async with httpx.AsyncClient(base_url=base, timeout=15) as customer_api:
            if ending == "terminate":
                response = await customer_api.post(f"/api/v1/sessions/{sid}/terminate", headers=bearer(customer_token))
            else:
                response = await customer_api.delete(f"/api/v1/sessions/{sid}/scopes/view",
                                                     headers=bearer(customer_token))
            answered_ms = time.time() * 1000
        assert response.status_code == 200, response.text
        code, reason = await asyncio.wait_for(collecting, 10)
        assert code == 4410 and "customer" in reason
        await customer.wait_for_selector("#share-box[data-stopped='ended']", state="attached", timeout=15000)
        sent_at = dict(map(tuple, (await _stats(customer))["sent"]))
        late = [seq for seq in begun if sent_at.get(seq, 0) > answered_ms]
        assert late == [], f"pictures the page sent after the 200 reached the consultant: {late}"
        # The session is over: the page shows its summary and offers no share.
        await customer.wait_for_selector("#summary-section", state="visible", timeout=15000)
        assert await customer.is_hidden("#share-screen")
        assert (await close_code(consultant))[0] in (4410, None)
        await context.close()
    assert errors == [], errors

