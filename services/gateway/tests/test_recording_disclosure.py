"""Recording, disclosed before consent (issue #19): the request page says that the session is recorded, what, for
how long (RECORDING_RETENTION_DAYS) and who sees it, in the page's language, just before the consent box, and only
where the gateway records (RECORDING_ENABLED). The chromium side (visible, before the box, on a 320 px phone, the
badges while the session runs) is tests/test_ui_observer.py's."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from assist_gateway.web.i18n import MESSAGES
from assist_gateway.web.recording_notice import RecordingNotice, recording_notice

BG, EN = MESSAGES["bg"], MESSAGES["en"]


@pytest.mark.parametrize(("days", "bg", "en"), [
    (30.0, "30 дни", "30 days"), (1.0, "1 ден", "1 day"), (365, "365 дни", "365 days"), (0.5, "12 часа", "12 hours"),
    (1 / 24, "1 час", "1 hour"), (0.0001, "1 час", "1 hour"), (1.5, "36 часа", "36 hours"),
], ids=["30-days", "1-day", "a-year", "half-a-day", "1-hour", "less-than-an-hour", "a-day-and-a-half"])
def test_the_period_is_said_in_the_pages_words(days, bg, en):
    notice = RecordingNotice(retention_days=days)
    assert notice.period(BG) == bg and notice.period(EN) == en
    assert notice.text(BG) == BG["cp_recording_disclosure"].replace("{period}", bg)
    assert f"kept for {en} after the session ends" in notice.text(EN)


def test_disclosed_only_where_sessions_are_recorded_and_with_the_defaults_of_an_older_gateway():
    assert recording_notice(SimpleNamespace(recording_enabled=False, recording_retention_days=30)) is None
    assert recording_notice(SimpleNamespace(recording_enabled=True, recording_retention_days=7)) == RecordingNotice(7)
    assert recording_notice(SimpleNamespace()) == RecordingNotice(30)  # settings without the fields: the defaults


@pytest.mark.parametrize("lang", ["bg", "en"])
def test_the_disclosure_says_what_how_long_and_who_in_both_languages(lang):
    text = RecordingNotice(30).text(MESSAGES[lang])
    flat = " ".join(text.split())
    for phrase in {"bg": ["се записва", "терминалът", "екранът ви", "чатът", "не съдържанието на файловете",
                          "не клипбордът ви", "30 дни", "изтрие", "супервайзорите", "т. 6 от условията"],
                   "en": ["is recorded", "the terminal", "your screen", "the chat", "not the files' contents",
                          "not your clipboard", "30 days", "erase", "supervisors", "section 6 of the terms"]}[lang]:
        assert phrase in flat, (lang, phrase)


def _disclosure(page: str) -> str | None:
    found = re.search(r'<p id="recording-disclosure"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else None


async def test_the_request_page_says_it_before_the_consent_box_only_when_recording(
    nats_url, database_location, gateway_settings, gateway_factory, backends_factory,
):
    async with backends_factory(nats_url, database_location):
        week = gateway_settings.model_copy(update={"recording_enabled": True, "recording_retention_days": 7.0})
        async with gateway_factory(week) as gateway:
            for lang, words, period in (("bg", BG, "7 дни"), ("en", EN, "7 days")):
                page = (await gateway.client.get("/", params={"lang": lang})).text
                assert _disclosure(page) == words["cp_recording_disclosure"].replace("{period}", period)
                # Before the consent box, after what is allowed; the box names it as what it consents to.
                assert page.index('id="scopes"') < page.index('id="recording-disclosure"') < page.index('id="consent"')
                assert 'aria-describedby="recording-disclosure consent-error"' in page
                assert 'id="recorded-badge"' in page and 'data-enabled="true"' in page
        off = gateway_settings.model_copy(update={"recording_enabled": False})
        async with gateway_factory(off) as gateway:
            page = (await gateway.client.get("/")).text
            assert _disclosure(page) is None and "recording-disclosure" not in page
            assert 'id="consent" name="consent" required aria-describedby="consent-error"' in page
            assert 'data-enabled="false"' in page  # the badge, never shown by customer.js on this gateway
