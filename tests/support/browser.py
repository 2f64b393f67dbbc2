"""Playwright with Debian's chromium (Playwright cannot download its own browser here), for the UI tests."""

from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# getDisplayMedia without a person at the picker (#18): chromium's fake capture answers it at once with a moving test
# picture (`chromium(extra_args=FAKE_CAPTURE)`).
FAKE_CAPTURE = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)")
    if not (Path(__file__).resolve().parents[2] / "services/gateway/web/node_modules/@xterm/xterm").is_dir():
        pytest.skip("the pages' npm libraries are missing (run `make sync`, which runs npm ci)")


@asynccontextmanager
async def chromium(*, extra_args: tuple[str, ...] | list[str] = ()):
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser, *, errors: list[str]):
    """A page in a context of its own (its own cookies), collecting script errors and CSP violations."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and "favicon" not in message.text and "404" not in message.text else None)
    return page


@asynccontextmanager
async def checked_page(*, expected: str | None = None):
    """A page of its own (`new_page`) in Debian's chromium. When the block ends, the page has raised no script error
    and no CSP violation; the browser's own line for a refused request it was meant to make (`expected`, such as
    "status of 409") is the one thing allowed."""
    errors: list[str] = []
    async with chromium() as browser:
        yield await new_page(browser, errors=errors)
    assert [error for error in errors if expected is None or expected not in error] == [], errors


async def staff_login(page, base_url: str, path: str, username: str, password: str) -> None:
    await page.goto(f"{base_url}{path}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")
    await page.wait_for_url(f"{base_url}{path}*")


async def fill_request(page, *, name: str = "Мария Иванова", email: str = "maria@example.com") -> None:
    await page.fill("#name", name)
    await page.fill("#email", email)
    await page.fill("#company", "Иванови ЕООД")
    await page.fill("#phone", "+359 88 123 4567")
    await page.fill("#description", "Програмата за фактури не тръгва")
