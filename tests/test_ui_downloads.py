"""The customer page's "get the agent" block in the real browser: the download for the visitor's platform, the
command with the session code, copy buttons that copy exactly that, and a phone's 320 px screen.

The page reads /downloads/ for what the server has built; here a directory with small stand-ins for the built
files (tests/test_e2e_agent_downloads.py serves and runs the real ones).
"""

from __future__ import annotations

import pytest
from browser import SCREENSHOTS, chromium, fill_request
from playwright.async_api import expect

pytestmark = pytest.mark.e2e

LINUX_DESKTOP = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/131.0.0.0 Safari/537.36")
WINDOWS_DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "Chrome/131.0.0.0 Safari/537.36")
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/131.0.0.0 Mobile Safari/537.36")
EXECUTABLE = "assist-agent-linux-x86_64"
WHEEL = "assist_agent-0.1.0-py3-none-any.whl"

# Where an element sits against the viewport, and on how many lines its text is laid out.
MEASURE = """(element) => {
  const box = element.getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(element);
  const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
  return {left: box.left, right: box.right, lines: lines.size, scrollWidth: element.scrollWidth,
          clientWidth: element.clientWidth, viewport: window.innerWidth,
          pageWidth: document.documentElement.scrollWidth};
}"""


async def test_each_visitor_gets_the_right_download_and_copies_exactly_what_is_shown(start_system, tmp_path):
    """One system (a start costs seconds) for three visitors: Linux, Windows in English, a 320 px phone."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / EXECUTABLE).write_bytes(b"\x7fELF stand-in")
    (dist / WHEEL).write_bytes(b"PK stand-in")
    system = start_system(extra_env={"ASSIST_AGENT_DIST_DIR": str(dist)})
    errors: list[str] = []
    async with chromium() as browser:
        await _linux_visitor(browser, system, errors)
        await _windows_visitor(browser, system, errors)
        await _phone_visitor(browser, system, errors)
    assert errors == []


async def _session_page(browser, system, *, user_agent: str, width: int = 1280, lang: str = "bg",
                        errors: list[str]):
    context = await browser.new_context(viewport={"width": width, "height": 900}, user_agent=user_agent,
                                        is_mobile=width < 600, has_touch=width < 600)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=system.gateway_url)
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "favicon" not in message.text and "404" not in message.text else None)
    await page.goto(f"{system.gateway_url}/?lang={lang}")
    await fill_request(page)
    await page.check("#consent")
    await page.click("#submit-request")
    await page.wait_for_selector("#get-agent[data-offer]:not([data-offer=''])")
    code = (await page.inner_text("#session-code")).replace(" ", "")
    assert code.isdigit() and len(code) == 9
    return page, code


async def _linux_visitor(browser, system, errors: list[str]) -> None:
    """The executable, its command with the code, both copied exactly, the confirmation in Bulgarian."""
    page, code = await _session_page(browser, system, user_agent=LINUX_DESKTOP, errors=errors)
    assert await page.get_attribute("#get-agent", "data-offer") == "executable"
    assert await page.is_visible("#agent-download-link")
    assert await page.get_attribute("#agent-download-link", "href") == f"/downloads/{EXECUTABLE}"
    assert await page.inner_text("#agent-download-link") == "Изтеглете агента за Linux"
    assert not await page.is_visible("#agent-other-platform")
    command = await page.inner_text("#agent-command")
    assert command == (f"chmod +x {EXECUTABLE} && ./{EXECUTABLE} "
                       f"--gateway {system.gateway_url} --code {code}")

    await page.click("#copy-code")
    await expect(page.locator("#copy-status")).to_have_text("Кодът е копиран.")
    assert await page.evaluate("navigator.clipboard.readText()") == code
    await page.click("#copy-command")
    await expect(page.locator("#copy-status")).to_have_text("Командата е копирана.")
    assert await page.evaluate("navigator.clipboard.readText()") == command
    await page.screenshot(path=str(SCREENSHOTS / "customer-get-agent-linux.png"), full_page=True)

    # The link downloads the file under its own name.
    async with page.expect_download() as download_info:
        await page.click("#agent-download-link")
    download = await download_info.value
    assert download.suggested_filename == EXECUTABLE


async def _windows_visitor(browser, system, errors: list[str]) -> None:
    """No executable for Windows on this server: told how it is built, offered the wheel and pip, in English."""
    page, code = await _session_page(browser, system, user_agent=WINDOWS_DESKTOP, lang="en", errors=errors)
    assert await page.get_attribute("#get-agent", "data-offer") == "wheel"
    assert not await page.is_visible("#agent-download")
    other = await page.inner_text("#agent-other-platform")
    assert "Windows" in other and "docs/agent.md" in other and "pip" in other
    assert await page.get_attribute("#agent-wheel-link", "href") == "/downloads/assist-agent.whl"
    command = await page.inner_text("#agent-command")
    assert command.splitlines() == [
        f"py -m pip install --user {system.gateway_url}/downloads/{WHEEL}",
        f"py -m assist_agent --gateway {system.gateway_url} --code {code}",
    ]
    await page.click("#copy-command")
    await expect(page.locator("#copy-status")).to_have_text("The command is copied.")
    await page.screenshot(path=str(SCREENSHOTS / "customer-get-agent-windows.png"), full_page=True)
    assert await page.evaluate("navigator.clipboard.readText()") == command


async def _phone_visitor(browser, system, errors: list[str]) -> None:
    """At 320 px the code is on one line and the command wraps inside the screen: nothing cut, no sideways scroll."""
    page, code = await _session_page(browser, system, user_agent=ANDROID_PHONE, width=320, errors=errors)
    # A phone is not the computer that needs help: it is told so, with every download on offer.
    assert "компютъра" in await page.inner_text("#agent-other-platform")
    assert await page.is_visible("#agent-download-link") and await page.is_visible("#agent-wheel-link")
    await page.screenshot(path=str(SCREENSHOTS / "customer-get-agent-320px.png"), full_page=True)

    shown_code = await page.eval_on_selector("#session-code", MEASURE)
    assert shown_code["lines"] == 1, shown_code
    assert 0 <= shown_code["left"] and shown_code["right"] <= shown_code["viewport"], shown_code
    command = await page.eval_on_selector("#agent-command", MEASURE)
    pre = await page.eval_on_selector("pre.command", MEASURE)
    assert 0 <= pre["left"] and pre["right"] <= pre["viewport"], pre
    assert pre["scrollWidth"] <= pre["clientWidth"], pre  # wrapped, nothing hidden past the edge
    assert command["right"] <= pre["right"], command
    assert shown_code["pageWidth"] <= shown_code["viewport"], "the page scrolls sideways"
    for button in ("#copy-code", "#copy-command", "#agent-download-link", "#agent-wheel-link"):
        box = await page.eval_on_selector(button, MEASURE)
        assert 0 <= box["left"] and box["right"] <= box["viewport"], (button, box)
    await page.click("#copy-code")
    await expect(page.locator("#copy-status")).to_have_text("Кодът е копиран.")
    assert await page.evaluate("navigator.clipboard.readText()") == code
