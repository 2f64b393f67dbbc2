"""The session's chat as its people use it (issue #17), in chromium with the real agent: the customer writes on a
320 px phone in Bulgarian while waiting; elena claims, reads it in the console and answers in English-free words of
her own; the customer's page and the agent's terminal show the answer; the customer answers from the agent (T);
the console counts what arrived while elena was elsewhere. Every message is shown as text, never as markup.
Screenshots: docs/screenshots/customer-chat-320px.png and console-session-chat.png.
"""

from __future__ import annotations

import pytest
from browser import SCREENSHOTS, chromium
from phone_story import PHONE, consultant_opens_it, customer_asks_on_the_phone

pytestmark = pytest.mark.e2e

PASSWORD = "elena-pass-123"
FIRST = "Здравейте! Принтерът пише <b>грешка 17</b>."
ANSWER = "Добър ден, Мария. Поглеждам веднага."
FROM_THE_AGENT = "Благодаря, чакам."


async def shown(page, seq: int) -> dict:
    item = page.locator(f"#chat-messages li.chat-message[data-seq='{seq}']")
    await item.wait_for()
    return {"role": await item.get_attribute("data-role"), "text": await item.locator(".chat-text").inner_text(),
            "author": await item.locator(".chat-author").inner_text(),
            "markup": await item.locator(".chat-text b").count()}


async def test_customer_and_consultant_chat_in_page_console_and_agent(start_system, tmp_path, agents):
    system = start_system(shared=True)
    system.add_user("consultant", "elena", PASSWORD)
    base = system.gateway_url
    errors: list[str] = []
    async with chromium() as browser:
        story = await customer_asks_on_the_phone(browser, base, tmp_path, errors=errors)
        customer, agent = story.customer, story.agent
        agents.append(agent)
        # While waiting: the customer writes.
        await customer.fill("#chat-text", FIRST)
        await customer.press("#chat-text", "Enter")
        mine = await shown(customer, 1)
        assert mine == {"role": "customer", "text": FIRST, "author": "Вие", "markup": 0}

        console = await consultant_opens_it(browser, base, story, username="elena", password=PASSWORD,
                                            errors=errors)
        theirs = await shown(console, 1)
        assert (theirs["role"], theirs["text"], theirs["markup"]) == ("customer", FIRST, 0)
        await console.fill("#chat-text", ANSWER)
        await console.click("#chat-send")
        assert (await shown(customer, 2))["text"] == ANSWER and (await shown(customer, 2))["author"] == "elena"
        await agent.wait_for_log(f"[chat] elena: {ANSWER}")
        await agent.wait_for_log("Press T to reply.")

        # elena is in another tab when the customer answers from the agent: the console counts it unread.
        await console.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {value: true, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        agent.press(b"t")
        agent.press(f"{FROM_THE_AGENT}\n".encode())
        third = await shown(console, 3)
        assert (third["role"], third["text"]) == ("customer", FROM_THE_AGENT)
        await console.wait_for_selector("#chat-unread[data-count='1']")
        assert (await shown(customer, 3))["author"] == "Вие"
        await agent.wait_for_log(f"[chat] you: {FROM_THE_AGENT}")
        width = await customer.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        await customer.locator("#chat").scroll_into_view_if_needed()
        await customer.screenshot(path=str(SCREENSHOTS / "customer-chat-320px.png"))
        assert (await console.title()).startswith("(1) ")
        await console.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {value: false, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        await console.focus("#chat-text")
        await console.wait_for_selector("#chat-unread", state="hidden")
        await console.screenshot(path=str(SCREENSHOTS / "console-session-chat.png"), full_page=True)

        await customer.click("#end-session")
        await customer.wait_for_selector("#summary-section", state="visible")
        await console.wait_for_selector("#chat[data-state='closed']")
        assert await console.is_hidden("#chat-form")
        await story.phone.close()
    assert errors == [], errors
