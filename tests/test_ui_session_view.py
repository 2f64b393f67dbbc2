"""The consultant's session page (`/console/session/{id}`) in chromium, with a real `assist agent` (on Xvfb
where a screen is needed): the customer's screen fills its pane with the remote's aspect, goes full screen and
1:1 and still maps the pointer to the remote pixel under it; the terminal's recent history survives a reload
and is gone after the end; a view-only session says so before anything is typed and offers no input; End
asks first.
The consultant picks which of the customer's screens to see (#17).
Screenshots: docs/screenshots/console-session.png, console-session-view-only.png and console-monitors.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess

import httpx
import pytest
from agent_flow import TwoMonitorXvfb, Xvfb, missing_x_tools, paint
from browser import SCREENSHOTS, chromium, new_page
from console_session import CONNECTED, channels, open_session, session_status, terminal_lines, wait_for_lines
from public_api import bearer

from assist_gateway.web.i18n import MESSAGES
from assist_gateway.web.words.session_view import WORDS

pytestmark = pytest.mark.e2e
needs_x = pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or "")
PASSWORD = "elena-pass-123"
REMOTE = (1280, 800)


@pytest.fixture
def desktop():
    """A 1280×800 display with something on it: a desktop, a task bar, an application window and a dialog."""
    display = Xvfb(*REMOTE)
    paint(display, [(0, 0, 1280, 800, 0x2B5B84), (0, 764, 1280, 36, 0x1B1F24), (6, 770, 110, 24, 0x3C8DBC),
                    (180, 110, 760, 480, 0xF4F6F8), (180, 110, 760, 32, 0x0B5CAD),
                    (200, 170, 300, 22, 0xC9D1D9),
                    (200, 210, 700, 340, 0xFFFFFF), (1000, 40, 240, 160, 0xE8A33D)])
    dialog = subprocess.Popen(
        ["xmessage", "-geometry", "+420+300", "-buttons", "OK",
         "Invoices 2.4: cannot open the database (error 17)"],
        env=display.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield display
    dialog.terminate()
    dialog.wait(timeout=10)
    display.stop()


@contextlib.asynccontextmanager
async def elenas_console(start_system, tmp_path, agents, **session):
    """elena logged in at the console, on the page of a session she claimed, its agent there (`open_session`'s
    `scopes`, `env`); the page raised no script error when the block ends."""
    system = start_system(shared=True)
    system.add_user("consultant", "elena", PASSWORD)
    errors: list[str] = []
    async with chromium() as browser:
        page = await new_page(browser, errors=errors)
        opened = await open_session(system, page, tmp_path, username="elena", password=PASSWORD, **session)
        agents.append(opened.agent)
        yield system, page, opened
    assert errors == [], errors


async def canvas_box(page) -> dict:
    return await page.evaluate("""() => {
        const r = document.getElementById('screen').getBoundingClientRect();
        const stage = document.getElementById('screen-stage');
        return {left: r.left, top: r.top, width: r.width, height: r.height,
                stage: stage.clientWidth, stageHeight: stage.clientHeight,
                viewport: window.innerWidth, viewportHeight: window.innerHeight};
    }""")


async def point_at(page, display: Xvfb, x: int, y: int) -> None:
    """Moves the browser's mouse to where remote pixel (x, y) is drawn; the X pointer must go to that pixel.

    The browser reports whole CSS pixels, so on a screen drawn smaller than 1:1 one CSS pixel covers more than
    one remote pixel: the pointer must then be within that many remote pixels; at 1:1 or more, exactly."""
    box = await canvas_box(page)
    await page.mouse.move(box["left"] + (x + 0.5) * box["width"] / REMOTE[0],
                          box["top"] + (y + 0.5) * box["height"] / REMOTE[1])
    slack_x = max(0, math.ceil(REMOTE[0] / box["width"]) - 1)
    slack_y = max(0, math.ceil(REMOTE[1] / box["height"]) - 1)

    def there() -> bool:
        px, py = display.pointer()
        return abs(px - x) <= slack_x and abs(py - y) <= slack_y

    try:
        async with asyncio.timeout(10):
            while not there():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"pointed at {(x, y)}, the X pointer is at {display.pointer()}; {box}") from None


async def screen_shown(page) -> None:
    """Until the remote screen's first frame is on the canvas (its size known and a painted pixel there)."""
    await page.wait_for_selector("#session.has-screen", timeout=20000)
    await page.wait_for_function("""() => {
        const c = document.getElementById('screen');
        const [r, g, b] = c.getContext('2d').getImageData(1100, 100, 1, 1).data;
        return c.width === 1280 && r === 0xE8 && g === 0xA3 && b === 0x3D;
    }""", timeout=20000)


@needs_x
async def test_the_screen_fills_its_pane_goes_full_screen_and_maps_the_pointer_exactly(
        start_system, tmp_path, desktop, agents):
    async with elenas_console(start_system, tmp_path, agents, env=desktop.env()) as (system, page, opened):
        await screen_shown(page)

        # Fitted: as wide as its pane, which has most of a 1280-wide window, with the remote's aspect.
        box = await canvas_box(page)
        assert box["width"] >= 0.98 * box["stage"], box
        assert box["width"] >= 0.55 * box["viewport"], box  # it was 462 of 1280 before
        assert abs(box["width"] / box["height"] - REMOTE[0] / REMOTE[1]) < 0.01, box
        percent = round(box["width"] / REMOTE[0] * 100)
        assert await page.inner_text("#screen-size") == f"Екранът на клиента: 1280×800, показан в {percent}%"
        # The pointer lands on the remote pixel the consultant points at, corners included.
        for x, y in ((640, 400), (1000, 700), (3, 5), (1279, 799)):
            await point_at(page, desktop, x, y)

        # The terminal, beside it, works as before.
        await page.click("#terminal")
        await page.keyboard.type("printf 'фактури: %s\\n' $((6*7)) && uname -s\n")
        await wait_for_lines(page, lambda lines: "фактури: 42" in lines)
        await page.wait_for_function("() => document.getElementById('elapsed').textContent >= '0:00:02'")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "console-session.png"), full_page=True)

        # Full screen: the screen takes the whole window, keeps the keys, and still maps exactly.
        assert await page.inner_text("#fullscreen-button") == "Цял екран"
        await page.click("#fullscreen-button")
        await page.wait_for_function("() => document.fullscreenElement?.id === 'screen-box'")
        await page.wait_for_selector("#fullscreen-button[aria-pressed='true']")
        assert await page.inner_text("#fullscreen-button") == "Изход от цял екран"
        await page.wait_for_function("() => document.activeElement && document.activeElement.id === 'screen'")
        box = await canvas_box(page)
        assert box["stage"] >= 0.97 * box["viewport"], box
        assert box["stageHeight"] >= 0.9 * box["viewportHeight"], box
        assert box["width"] >= box["stage"] - 1 or box["height"] >= box["stageHeight"] - 1, box
        assert abs(box["width"] / box["height"] - REMOTE[0] / REMOTE[1]) < 0.01, box
        await point_at(page, desktop, 321, 123)
        await page.click("#fullscreen-button")
        await page.wait_for_function("() => document.fullscreenElement === null")
        await page.wait_for_selector("#fullscreen-button[aria-pressed='false']")
        assert await page.inner_text("#fullscreen-button") == "Цял екран"

        # Actual size: one remote pixel per CSS pixel, the stage scrolls, and the pointer still maps.
        await page.click("#actual-size-button")
        await page.wait_for_selector("#actual-size-button[aria-pressed='true']")
        box = await canvas_box(page)
        assert (box["width"], box["height"]) == REMOTE, box
        assert await page.inner_text("#screen-size") == "Екранът на клиента: 1280×800, показан в 100%"
        await point_at(page, desktop, 200, 150)
        await page.click("#actual-size-button")
        await page.wait_for_selector("#actual-size-button[aria-pressed='false']")
        box = await canvas_box(page)
        assert box["width"] < REMOTE[0] and abs(box["width"] / box["height"] - 1.6) < 0.01, box

        # The whole width for the screen, the terminal below it: nearly the window's width, still exact.
        await page.click("#layout-button")
        await page.wait_for_selector("#layout-button[aria-pressed='true']")
        box = await canvas_box(page)
        assert box["stage"] >= 0.95 * box["viewport"] and box["width"] >= 0.98 * box["stage"], box
        assert abs(box["width"] / box["height"] - REMOTE[0] / REMOTE[1]) < 0.01, box
        await point_at(page, desktop, 777, 555)
        terminal = await page.evaluate("document.getElementById('terminal').getBoundingClientRect().top")
        assert terminal > box["top"] + box["height"], "the terminal is not below the screen"

        # The customer ends while the consultant is in full screen: the page leaves it, so the banner is seen.
        await page.click("#fullscreen-button")
        await page.wait_for_function("() => document.fullscreenElement?.id === 'screen-box'")
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=15) as client:
            ended = await client.post(f"/api/v1/sessions/{opened.request.session_id}/terminate",
                                      headers=bearer(opened.request.customer_token))
            assert ended.status_code == 200, ended.text
        await page.wait_for_function("() => document.fullscreenElement === null")
        assert await page.inner_text("#ended-banner") == MESSAGES["bg"]["ended_by_customer"]
        assert await page.is_visible("#ended-banner")


async def test_the_terminal_history_survives_a_reload_and_is_gone_after_the_end(
        start_system, tmp_path, agents):
    async with elenas_console(start_system, tmp_path, agents) as (system, page, opened):
        await page.click("#terminal")
        await page.keyboard.type("for i in $(seq 1 80); do echo history-line-$i; done\n")
        before = await wait_for_lines(page, lambda lines: "history-line-80" in lines)
        shown = [line for line in before if line.startswith("history-line-")]
        assert shown == [f"history-line-{i}" for i in range(1, 81)]

        await page.reload()
        # Written back before the socket connects: there already while the page still waits for the agent.
        await page.wait_for_selector("#session[data-history='restored']")
        after = await terminal_lines(page)
        assert [line for line in after if line.startswith("history-line-")] == shown
        await page.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=20000)
        # And the shell is the same one: it goes on where it was.
        await page.click("#terminal")
        await page.keyboard.type("echo after-reload-$((40+2))\n")
        lines = await wait_for_lines(page, lambda lines: "after-reload-42" in lines)
        assert [line for line in lines if line.startswith("history-line-")] == shown

        # End asks first: Cancel and Escape leave the session running.
        await page.click("#end-button")
        question = page.locator("dialog.confirm")
        await question.wait_for()
        asked = WORDS["bg"]["sv_end_question"].format(customer="Иван Петров")
        assert await question.locator("#confirm-question").inner_text() == asked
        await question.locator("[data-answer=no]").click()
        await question.wait_for(state="detached")
        await page.click("#end-button")
        await question.wait_for()
        await page.keyboard.press("Escape")
        await question.wait_for(state="detached")
        assert (await session_status(system, opened.request))["status"] == "active"
        assert await page.inner_text("#relay-state") == CONNECTED
        assert not await page.is_disabled("#end-button")

        # Only "yes" ends it; then the kept history is erased, and a reload shows none of it.
        await page.click("#end-button")
        await question.locator("[data-answer=yes]").click()
        await page.wait_for_selector("#ended-banner:has-text('Сесията е приключена от консултант.')")
        view = await session_status(system, opened.request)
        assert view["status"] == "ended" and view["ended_by"] == "consultant"
        assert await page.evaluate("() => Object.keys(sessionStorage)") == []
        await page.reload()
        await page.wait_for_selector("#ended-banner:not([hidden])")
        assert await page.get_attribute("#session", "data-history") is None
        assert not any(line.startswith("history-line-") for line in await terminal_lines(page))


@needs_x
async def test_control_taken_back_mid_session_turns_the_page_to_view_only_at_once(start_system, tmp_path, desktop,
                                                                                   agents):
    """The customer takes `control` back while the consultant works (#16): the page says so in its language,
    stops offering input, and nothing typed afterwards reaches the customer's computer; the screen goes on."""
    async with elenas_console(start_system, tmp_path, agents, env=desktop.env()) as (system, page, opened):
        assert not await page.is_visible("#view-only-notice") and not await page.is_visible("#view-only-badge")
        # Control held: asking for the rest (files, clipboard) is folded behind a button, the screen keeps its place.
        assert await page.is_hidden("#step-up-box") and await page.is_visible("#step-up-open")
        await page.click("#terminal")
        await page.keyboard.type("echo before-$((20+1))\n")
        await wait_for_lines(page, lambda lines: "before-21" in lines)

        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=15) as customer:
            taken = await customer.delete(f"/api/v1/sessions/{opened.request.session_id}/scopes/control",
                                          headers=bearer(opened.request.customer_token))
        assert taken.status_code == 200 and taken.json()["scopes"] == ["view"], taken.text
        await page.wait_for_selector("#view-only-notice", state="visible")
        assert await page.inner_text("#view-only-notice") == WORDS["bg"]["sv_control_withdrawn"]
        assert await page.is_visible("#view-only-badge")
        assert await page.evaluate("() => window.AssistSessionView.viewOnly") is True
        # Watching only, the consultant may ask for control again (a step up): the form is offered now.
        assert await page.is_visible("#step-up-box") and await page.is_hidden("#step-up-status")
        assert await page.evaluate("() => window.AssistSessionView.terminal.options.disableStdin") is True
        await opened.agent.wait_for_log("the consultant may now: view", timeout=10)

        witness = tmp_path / "typed-after-control-was-taken-back"
        mark = len(opened.sent)
        await page.click("#terminal")
        await page.keyboard.type(f"touch {witness}\n")
        await screen_shown(page)  # the screen still comes
        assert set(channels(opened.sent[mark:])) <= {0}, channels(opened.sent[mark:])
        assert not witness.exists()
        assert (await session_status(system, opened.request))["status"] == "active"
        await page.screenshot(path=str(SCREENSHOTS / "console-session-control-withdrawn.png"), full_page=True)


@needs_x
async def test_a_view_only_session_says_so_first_and_offers_no_input(start_system, tmp_path, desktop, agents):
    async with elenas_console(
            start_system, tmp_path, agents, scopes=("view",), env=desktop.env()) as (system, page, opened):
        # Said up front, in the page's language, before any key.
        assert await page.inner_text("#view-only-notice") == WORDS["bg"]["sv_view_only"]
        assert await page.is_visible("#view-only-notice")
        # The one thing offered: asking the customer for control, with a reason (a step up, #16).
        assert await page.is_visible("#step-up-box") and await page.is_hidden("#step-up-status")
        assert await page.get_attribute("#step-up-reason", "maxlength") == "500"
        assert await page.inner_text("#step-up-ask") == WORDS["bg"]["sv_step_up_ask"]
        await screen_shown(page)
        # Nothing offers input: the terminal does not read keys, the canvas is not a keyboard target.
        assert await page.evaluate("() => window.AssistSessionView.terminal.options.disableStdin") is True
        assert await page.get_attribute("#screen", "tabindex") is None

        witness = tmp_path / "typed-under-view-only"
        mark, cols = len(opened.sent), await page.evaluate("() => window.AssistSessionView.terminal.cols")
        pointer = desktop.pointer()
        await page.click("#terminal")
        await page.keyboard.type(f"touch {witness}\n")
        box = await canvas_box(page)
        await page.mouse.move(box["left"] + 100, box["top"] + 100)
        await page.mouse.click(box["left"] + 200, box["top"] + 150)
        await page.focus("#screen")
        await page.keyboard.press("a")
        await page.mouse.wheel(0, 120)
        # Then something the page does send: a narrower window resizes the terminal, the page tells the agent.
        # Frames leave in order, so any input frame sent before would be recorded before this one.
        await page.set_viewport_size({"width": 1100, "height": 900})
        await page.wait_for_function("(cols) => window.AssistSessionView.terminal.cols !== cols", arg=cols)
        told = f'"cols":{await page.evaluate("() => window.AssistSessionView.terminal.cols")},'.encode()
        async with asyncio.timeout(10):
            while not any(isinstance(p, bytes) and p[0] == 0 and told in p for p in opened.sent[mark:]):
                await asyncio.sleep(0.05)
        await page.set_viewport_size({"width": 1280, "height": 900})
        assert set(channels(opened.sent)) <= {0}, channels(opened.sent)
        assert channels(opened.sent).count(0) >= 2  # its hello and the terminal's size did go
        assert not any(WORDS["bg"]["sv_refused_terminal"] in line or "Агентът отказа" in line
                       for line in await terminal_lines(page))
        assert desktop.pointer() == pointer
        assert not witness.exists()
        await page.screenshot(path=str(SCREENSHOTS / "console-session-view-only.png"), full_page=True)

        # With control (another session, the same consultant), the same page takes keys as before.
        control = await open_session(system, page, tmp_path, username="elena", password=PASSWORD,
                                     env=desktop.env(), login_page=False)
        agents.append(control.agent)
        assert not await page.is_visible("#view-only-notice") and not await page.is_visible("#view-only-badge")
        assert await page.is_hidden("#step-up-box")
        await page.click("#terminal")
        await page.keyboard.type("echo with-control-$((1+1))\n")
        await wait_for_lines(page, lambda lines: "with-control-2" in lines)
        assert 1 in channels(control.sent)


async def test_relay_refusals_are_words_of_the_page(start_system, tmp_path, agents):
    """A second page of the same consultant replaces the first (4409): the first says so in Bulgarian."""
    async with elenas_console(start_system, tmp_path, agents) as (system, page, opened):
        second = await page.context.new_page()
        await second.goto(f"{system.gateway_url}/console/session/{opened.request.session_id}")
        await second.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=20000)
        replaced = WORDS["bg"]["sv_close_4409"]
        await page.wait_for_selector(f"#relay-state:has-text('{replaced}')", timeout=10000)
        await second.goto(f"{system.gateway_url}/console/session/{opened.request.session_id}?lang=en")
        await second.wait_for_selector("#relay-state:has-text('The agent is connected')", timeout=20000)
        await page.reload()
        await page.wait_for_selector("#relay-state:has-text('The agent is connected')", timeout=20000)
        replaced = WORDS["en"]["sv_close_4409"]
        await second.wait_for_selector(f"#relay-state:has-text('{replaced}')", timeout=10000)


async def test_logging_out_in_another_tab_closes_the_session_page_and_says_why(start_system, tmp_path, agents):
    """T69 as elena lives it: the session page stays open in one tab, she logs out in another; the page drops the
    customer's terminal at once, says why in Bulgarian and offers to log in again, which brings her back to the
    session; meanwhile the customer's agent says she left."""
    async with elenas_console(start_system, tmp_path, agents) as (system, page, opened):
        await page.click("#terminal")
        await page.keyboard.type("echo customer-secret-$((6*7))\n")
        await wait_for_lines(page, lambda lines: "customer-secret-42" in lines)
        console = await page.context.new_page()
        await console.goto(f"{system.gateway_url}/console")
        await console.click("form[action='/console/logout'] button")
        await console.wait_for_url("**/console/login*")
        await console.close()

        await page.wait_for_selector(f"#relay-state:has-text('{WORDS['bg']['sv_close_4401']}')", timeout=10000)
        assert not any("customer-secret" in line for line in await terminal_lines(page))
        assert await page.is_hidden("#end-button") and await page.is_hidden("header .who")
        assert await page.inner_text("#login-again") == WORDS["bg"]["sv_login_again"]
        await opened.agent.wait_for_log("the consultant left")
        await page.screenshot(path=str(SCREENSHOTS / "console-session-logged-out.png"), full_page=True)

        await page.click("#login-again")
        await page.fill("#username", "elena")
        await page.fill("#password", PASSWORD)
        await page.click("#login-button")
        await page.wait_for_url(f"**/console/session/{opened.request.session_id}")
        await page.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=20000)
        await opened.agent.wait_for_log("[connected] consultant: elena")


@pytest.fixture
def two_screens():
    """Two monitors side by side: screen 1 (1280×800, primary) with `desktop`'s picture, screen 2 (1024×768, at its
    right) a green desktop with a white window."""
    display = TwoMonitorXvfb(REMOTE, (1024, 768))
    paint(display, [(0, 0, 1280, 800, 0x2B5B84), (0, 764, 1280, 36, 0x1B1F24), (180, 110, 760, 480, 0xF4F6F8),
                    (180, 110, 760, 32, 0x0B5CAD), (1000, 40, 240, 160, 0xE8A33D),
                    (1280, 0, 1024, 768, 0x2E7D32), (1380, 120, 600, 400, 0xFFFFFF), (1380, 120, 600, 28, 0x6A1B9A)])
    yield display
    display.stop()


async def canvas_pixel(page, x: int, y: int) -> list[int]:
    return await page.evaluate("([x, y]) => [...document.getElementById('screen').getContext('2d')"
                               ".getImageData(x, y, 1, 1).data].slice(0, 3)", [x, y])


@needs_x
async def test_the_consultant_picks_the_customers_second_screen_and_the_canvas_follows(
        start_system, tmp_path, two_screens, agents):
    """#17 Monitors in the console: the picker names both screens of the agent's hello; choosing screen 2 changes the
    canvas's size and picture (the same socket: no reconnect), the agent tells the customer, and back again.
    Screenshot: docs/screenshots/console-monitors.png."""
    async with elenas_console(start_system, tmp_path, agents, env=two_screens.env()) as (system, page, opened):
        await screen_shown(page)
        assert await page.is_visible("#monitor-picker")
        names = await page.eval_on_selector_all("#monitor-picker option", "options => options.map(o => o.text)")
        assert names == ["Екран 1 (1280×800, основен)", "Екран 2 (1024×768)"]
        assert await page.input_value("#monitor-picker") == "1"
        await opened.agent.wait_for_log("The consultant now sees screen 1 of 2 (1280×800).")
        new_sockets: list[str] = []
        page.on("websocket", lambda socket: new_sockets.append(socket.url))

        await page.select_option("#monitor-picker", "2")
        await page.wait_for_function("""() => {
            const c = document.getElementById('screen');
            const [r, g, b] = c.getContext('2d').getImageData(50, 700, 1, 1).data;
            return document.getElementById('session').dataset.monitor === '2' && c.width === 1024
                && c.height === 768 && r === 0x2E && g === 0x7D && b === 0x32;
        }""", timeout=20000)
        assert await canvas_pixel(page, 300, 300) == [255, 255, 255]  # the window on screen 2
        assert await page.inner_text("#screen-size") == (
            "Екранът на клиента: 1024×768, показан в "
            f"{round((await canvas_box(page))['width'] / 1024 * 100)}%")
        await opened.agent.wait_for_log("The consultant now sees screen 2 of 2 (1024×768).")
        assert new_sockets == []  # switched on the page's socket, no reconnect
        assert any(isinstance(frame, bytes) and frame[:1] == b"\x00" and b'"screen.select","monitor":2' in frame
                   for frame in opened.sent), opened.sent
        await page.wait_for_function("() => document.getElementById('elapsed').textContent >= '0:00:02'")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "console-monitors.png"), full_page=True)

        await page.select_option("#monitor-picker", "1")
        await screen_shown(page)
        assert await page.evaluate("() => document.getElementById('session').dataset.monitor") == "1"
