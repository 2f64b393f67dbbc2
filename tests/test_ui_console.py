"""The consultant's console and the supervisor's page in chromium (issue #14): the queue shows service names in the
page's language, a ticking waiting time and the contact; a new request (and only a new one) changes the tab's
title, beeps when the sound is on and shows a desktop notification where allowed; a claim conflict is said in
Bulgarian; a failed login keeps the username and the destination; the supervisor's End asks first; a page that is
not for the role is an HTML page with a way back. Screenshots: console-queue.png, supervisor.png,
staff-forbidden.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest
from assist_gateway.web.i18n import MESSAGES
from browser import SCREENSHOTS, chromium, staff_login
from public_api import bearer, login

pytestmark = pytest.mark.e2e
BG = MESSAGES["bg"]
PASSWORD = "a long enough password"

# Counts what the page does with the browser's signals: every `new Notification(...)` (title, body), every
# oscillator start, every permission request. The real constructors still run.
SIGNAL_SPY = """
(() => {
  window.__notes = []; window.__tones = 0; window.__asked = 0; window.__sources = [];
  const RealNotification = window.Notification;
  if (RealNotification) {
    const Spy = function (title, options) {
      window.__notes.push({ title, body: (options || {}).body || "" });
      return new RealNotification(title, options);
    };
    Object.defineProperty(Spy, "permission", { get: () => RealNotification.permission });
    Spy.requestPermission = (...args) => { window.__asked += 1; return RealNotification.requestPermission(...args); };
    window.Notification = Spy;
  }
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
  const RealEventSource = window.EventSource;
  window.EventSource = function (...args) { const s = new RealEventSource(...args); window.__sources.push(s); return s; };
  window.EventSource.prototype = RealEventSource.prototype;
})();
"""

CUSTOMERS = [
    ({"name": "Мария Иванова", "email": "maria@example.com", "company": "Иванови ЕООД", "phone": "+359 88 123 4567"},
     "system_help"),
    ({"name": "Георги Димитров", "email": "georgi@example.com", "phone": "+359 87 765 4321"}, "consultation"),
    ({"name": "Елена Стоянова", "email": "elena.s@example.com", "company": "Стоянови АД"}, "urgent_help"),
]


async def ask_for_help(client: httpx.AsyncClient, customer: dict, service_type: str) -> dict:
    terms = (await client.get("/api/v1/terms")).json()
    response = await client.post("/api/v1/help-requests", json={
        "customer": customer, "service_type": service_type, "description": "Не мога да печатам фактури",
        "consent": {"accepted": True, "terms_version": terms["version"], "scopes": ["view", "control"]},
    })
    assert response.status_code == 201, response.text
    return response.json()


async def names_in_bulgarian(client: httpx.AsyncClient) -> dict[str, str]:
    prices = (await client.get("/api/v1/price-list")).json()
    return {item["code"]: item["names"]["bg"] for item in prices["service_types"]}


async def staff_page(browser, errors: list[str], *, notifications: bool):
    context = await browser.new_context(viewport={"width": 1280, "height": 900},
                                        permissions=["notifications"] if notifications else [])
    await context.add_init_script(SIGNAL_SPY)
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and not EXPECTED_ANSWER.search(message.text) else None)
    return page


# The browser logs each problem answer as an error: those the tests provoke (a wrong password, a throttled login,
# a forbidden page, a lost claim) and the missing favicon. Script errors and CSP violations still count.
EXPECTED_ANSWER = re.compile(r"Failed to load resource: the server responded with a status of (401|403|404|409|429)")


def seconds_of(shown: str) -> int:
    hours, minutes, seconds = (int(part) for part in re.fullmatch(r"(\d+):(\d\d):(\d\d)", shown).groups())
    return hours * 3600 + minutes * 60 + seconds


def waited_since(iso: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()


async def test_the_queue_shows_names_waiting_time_and_contact_and_signals_only_new_requests(start_system):
    system = start_system()
    system.add_user("consultant", "elena", PASSWORD)
    system.add_user("consultant", "olga", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client, chromium() as browser:
        names = await names_in_bulgarian(client)
        already = await ask_for_help(client, *CUSTOMERS[0])  # waiting before the console opens: no news

        console = await staff_page(browser, errors, notifications=True)
        await staff_login(console, base, "/console", "elena", PASSWORD)
        await console.wait_for_selector(f"#queue-rows tr[data-session-id='{already['session_id']}']")
        title = await console.title()
        assert title.startswith(f"(1) {BG['queue_title']} · {BG['console_title']}"), title
        # Allowed in this browser: the page says so and never asked on its own.
        assert await console.inner_text("#notify-state") == BG["cq_notify_on"]
        assert await console.is_hidden("#notify-ask")
        assert await console.evaluate("() => [window.__asked, window.__notes.length, window.__tones]") == [0, 0, 0]

        # The sound is off until the consultant turns it on (a click: the browser then lets the audio play).
        assert await console.inner_text("#sound-toggle") == BG["cq_sound_off"]
        await console.click("#sound-toggle")
        assert await console.get_attribute("#sound-toggle", "aria-pressed") == "true"
        assert await console.evaluate("() => localStorage.getItem('assist.console.sound')") == "on"

        new = [await ask_for_help(client, *customer) for customer in CUSTOMERS[1:]]
        await console.wait_for_function("() => document.querySelectorAll('#queue-rows tr').length === 3")
        await console.wait_for_function("() => document.title.startsWith('(3) ')")
        notes = await console.evaluate("() => window.__notes")
        told = "\n".join(f"{note['title']}\n{note['body']}" for note in notes)
        # Each new request is told (one notification per snapshot that brought news), the old one never.
        assert 1 <= len(notes) <= 2, notes
        for customer, service in CUSTOMERS[1:]:
            assert customer["name"] in told and names[service] in told, told
        assert CUSTOMERS[0][0]["name"] not in told
        assert "@" not in told, "the desktop notification shows no contact"
        assert await console.evaluate("() => window.__tones") == 2 * len(notes)  # two tones per signal

        # What each row shows is the request's: the name, the service's Bulgarian name, the contact, the wait.
        async with httpx.AsyncClient(base_url=base) as staff:
            token = await login(staff, "olga", PASSWORD)
            queue = (await staff.get("/api/v1/queue", headers=bearer(token))).json()["sessions"]
        requested = {s["session_id"]: s["requested_at"] for s in queue}
        for (customer, service), request in zip(CUSTOMERS, [already, *new], strict=True):
            row = console.locator(f"#queue-rows tr[data-session-id='{request['session_id']}']")
            assert await row.locator(".name").inner_text() == customer["name"]
            assert await row.locator("td.service").inner_text() == names[service] != service
            contact = await row.locator("td.contact").inner_text()
            assert customer["email"] in contact and customer.get("phone", customer["email"]) in contact
            assert "фактури" not in await row.inner_text(), "the description stays off the queue"
            shown = await row.locator("td.waited").inner_text()
            assert abs(seconds_of(shown) - waited_since(requested[request["session_id"]])) <= 3, shown
        # The waiting time ticks.
        first = console.locator(f"#queue-rows tr[data-session-id='{already['session_id']}'] td.waited")
        before = seconds_of(await first.inner_text())
        await console.wait_for_function(
            "([id, s]) => { const t = document.querySelector(`#queue-rows tr[data-session-id='${id}'] td.waited`)"
            ".textContent.split(':').map(Number); return t[0] * 3600 + t[1] * 60 + t[2] > s; }",
            arg=[already["session_id"], before])
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await console.mouse.move(0, 0)
        await console.screenshot(path=str(SCREENSHOTS / "console-queue.png"))

        # A request leaving the queue (a colleague claimed it) is no news: no notification, no tone.
        async with httpx.AsyncClient(base_url=base) as staff:
            taken = await staff.post(f"/api/v1/sessions/{new[0]['session_id']}/claim", headers=bearer(token))
            assert taken.status_code == 200
        await console.wait_for_function("() => document.querySelectorAll('#queue-rows tr').length === 2")
        await console.wait_for_function("() => document.title.startsWith('(2) ')")
        assert await console.evaluate("() => [window.__notes.length, window.__tones]") == [len(notes), 2 * len(notes)]

        # A claim that loses the race (the page has not heard yet) is said in Bulgarian, by the problem's code.
        await console.evaluate("() => window.__sources.forEach((source) => source.close())")
        async with httpx.AsyncClient(base_url=base) as staff:
            taken = await staff.post(f"/api/v1/sessions/{new[1]['session_id']}/claim", headers=bearer(token))
            assert taken.status_code == 200
        await console.click(f"#queue-rows button[data-session-id='{new[1]['session_id']}']")
        await console.wait_for_selector("#queue-error:not([hidden])")
        assert await console.inner_text("#queue-error") == BG["problem_already_claimed"]

        # Claiming the first one opens its session; back on the console, the history names the service and the
        # status in Bulgarian, and with none waiting any more the title is the page's own again.
        await console.click(f"#queue-rows button[data-session-id='{already['session_id']}']")
        await console.wait_for_url(f"**/console/session/{already['session_id']}")
        await console.goto(f"{base}/console")
        history = console.locator(f"#history tr[data-session-id='{already['session_id']}']")
        assert await history.locator("td.service").inner_text() == names["system_help"]
        assert await history.locator("td.status").inner_text() == BG["cq_status_assigned"]
        await console.wait_for_selector("#live-state.ok")
        await console.wait_for_function("() => document.querySelectorAll('#queue-rows tr').length === 0")
        assert await console.title() == f"{BG['console_title']} · {BG['app_name']}"
        # The sound stays on after a reload (remembered), and nothing was signalled by the reload's first snapshot.
        assert await console.get_attribute("#sound-toggle", "aria-pressed") == "true"
        assert await console.evaluate("() => [window.__notes.length, window.__tones]") == [0, 0]
    assert not errors, errors


# A browser that has not been asked yet (headless chromium answers "denied" at once): the permission is "default"
# until the page asks, and the person then allows. Counts the asks.
UNASKED_BROWSER = """
(() => {
  let permission = "default";
  window.__asked = 0;
  window.Notification = function () {};
  Object.defineProperty(window.Notification, "permission", { get: () => permission });
  window.Notification.requestPermission = async () => { window.__asked += 1; permission = "granted"; return permission; };
})();
"""


async def test_notifications_are_asked_for_only_by_the_button(start_system):
    system = start_system(shared=True)  # reads no queue: what others left waiting changes nothing it checks
    system.add_user("consultant", "elena", PASSWORD)
    errors: list[str] = []
    async with chromium() as browser:
        # Blocked (what headless chromium answers without a grant): the page says so and offers nothing.
        blocked = await staff_page(browser, errors, notifications=False)
        await staff_login(blocked, system.gateway_url, "/console", "elena", PASSWORD)
        await blocked.wait_for_selector("#live-state.ok")
        assert await blocked.evaluate("() => Notification.permission") == "denied"
        assert await blocked.inner_text("#notify-state") == BG["cq_notify_blocked"]
        assert await blocked.is_hidden("#notify-ask")

        # Not asked yet: the button offers it, and only the button asks.
        unasked = await staff_page(browser, errors, notifications=False)
        await unasked.context.add_init_script(UNASKED_BROWSER)
        await staff_login(unasked, system.gateway_url, "/console", "elena", PASSWORD)
        await unasked.wait_for_selector("#live-state.ok")
        assert await unasked.is_visible("#notify-ask") and await unasked.is_hidden("#notify-state")
        assert await unasked.inner_text("#notify-ask") == BG["cq_notify_ask"]
        assert await unasked.evaluate("() => window.__asked") == 0
        await unasked.click("#notify-ask")
        await unasked.wait_for_selector("#notify-state:has-text('%s')" % BG["cq_notify_on"])
        assert await unasked.evaluate("() => window.__asked") == 1
        assert await unasked.is_hidden("#notify-ask")
    assert not errors, errors


async def test_a_failed_login_keeps_the_username_and_the_destination(start_system):
    system = start_system(extra_env={"LOGIN_ATTEMPTS_PER_MINUTE": "2"})
    system.add_user("supervisor", "sam", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium() as browser:
        page = await staff_page(browser, errors, notifications=False)
        await page.goto(f"{base}/supervisor")
        await page.wait_for_url(f"{base}/console/login?next=/supervisor")
        await page.fill("#username", "sam")
        await page.fill("#password", "not the password")
        await page.click("#login-button")
        await page.wait_for_selector("#login-error")
        assert await page.inner_text("#login-error") == BG["login_failed"]
        assert await page.input_value("#username") == "sam"
        assert await page.input_value("#password") == ""
        assert await page.get_attribute("input[name=next]", "value") == "/supervisor"
        assert "sam" not in page.url and "password" not in page.url
        # The password has the focus: the consultant types it again and lands where they were going.
        assert await page.evaluate("() => document.activeElement.id") == "password"
        await page.fill("#password", PASSWORD)
        await page.click("#login-button")
        await page.wait_for_url(f"{base}/supervisor")

        # Throttled: the same form, the same username and destination, the throttle's words.
        throttled = await staff_page(browser, errors, notifications=False)
        await throttled.goto(f"{base}/console/login?next=/supervisor")
        for _ in range(3):
            await throttled.fill("#username", "sam")
            await throttled.fill("#password", "wrong again")
            async with throttled.expect_response(lambda r: r.request.method == "POST") as posted:
                await throttled.click("#login-button")
            await throttled.wait_for_selector("#login-error")
        answer = await posted.value
        assert answer.status == 429 and 0 < int(answer.headers["retry-after"]) <= 60
        assert await throttled.inner_text("#login-error") == BG["login_throttled"]
        assert await throttled.input_value("#username") == "sam"
        assert await throttled.get_attribute("input[name=next]", "value") == "/supervisor"
    assert not errors, errors


async def test_the_supervisor_ends_only_after_saying_yes_and_other_roles_get_a_page_back(start_system):
    system = start_system()
    system.add_user("consultant", "elena", PASSWORD)
    system.add_user("supervisor", "sam", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client, chromium() as browser:
        names = await names_in_bulgarian(client)
        elena = await login(client, "elena", PASSWORD)
        running = [await ask_for_help(client, *customer) for customer in CUSTOMERS[:2]]
        for request in running:
            claimed = await client.post(f"/api/v1/sessions/{request['session_id']}/claim", headers=bearer(elena))
            assert claimed.status_code == 200

        page = await staff_page(browser, errors, notifications=False)
        await staff_login(page, base, "/supervisor", "sam", PASSWORD)
        await page.wait_for_function("() => document.querySelectorAll('#session-rows tr').length === 2")
        first = page.locator(f"#session-rows tr[data-session-id='{running[0]['session_id']}']")
        assert await first.locator("td.service").inner_text() == names["system_help"]
        assert await first.locator("td.status").inner_text() == BG["cq_status_assigned"]
        assert CUSTOMERS[0][0]["email"] not in await page.inner_text("#sessions"), "no contact on the overseers' list"
        await page.wait_for_function("() => /^\\d+:\\d\\d:\\d\\d$/.test(document.querySelector('td.duration').textContent)")
        await page.screenshot(path=str(SCREENSHOTS / "supervisor.png"))

        async def status_of(request: dict) -> str:
            sam = await login(client, "sam", PASSWORD)
            return (await client.get(f"/api/v1/sessions/{request['session_id']}", headers=bearer(sam))).json()["status"]

        # End asks first, in Bulgarian; "no" ends nothing.
        await first.locator("button").click()
        dialog = page.locator("dialog.confirm")
        await dialog.wait_for()
        question = await dialog.locator("#confirm-question").inner_text()
        assert question == BG["cq_end_question"].replace("{who}", CUSTOMERS[0][0]["name"])
        assert await dialog.locator("[data-answer=yes]").inner_text() == BG["cq_end_confirm"]
        await dialog.locator("[data-answer=no]").click()
        await dialog.wait_for(state="detached")
        assert await status_of(running[0]) == "assigned"
        assert await page.locator("#session-rows tr").count() == 2
        # Yes ends it, and the live list drops it.
        await first.locator("button").click()
        await page.locator("dialog.confirm [data-answer=yes]").click()
        await page.wait_for_function("() => document.querySelectorAll('#session-rows tr').length === 1")
        assert await status_of(running[0]) == "ended"
        assert await status_of(running[1]) == "assigned"

        # A consultant opening the supervisor's page gets a page in Bulgarian with the way back to the console.
        console = await staff_page(browser, errors, notifications=False)
        await staff_login(console, base, "/console", "elena", PASSWORD)
        answer = await console.goto(f"{base}/supervisor")
        assert answer.status == 403 and answer.headers["content-type"].startswith("text/html")
        assert await console.inner_text("#error-title") == BG["cq_forbidden_title"]
        assert await console.inner_text("#error-detail") == BG["cq_forbidden_role"].format(
            role=BG["cq_role_consultant"])
        assert "elena" in await console.inner_text("header")
        assert await console.inner_text("#error-back") == BG["cq_back_consultant"]
        await console.screenshot(path=str(SCREENSHOTS / "staff-forbidden.png"))
        await console.click("#error-back")
        await console.wait_for_url(f"{base}/console")
    assert not errors, errors
