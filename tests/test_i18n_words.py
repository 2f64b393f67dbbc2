"""Every word a page shows exists in both languages, whichever area (web/words/) defines it."""

from assist_gateway.web.i18n import LANGUAGES, MESSAGES
from assist_gateway.web.words import console, customer, finance, recording, session_view


def test_every_key_is_in_both_languages():
    keys = {lang: set(MESSAGES[lang]) for lang in LANGUAGES}
    assert keys["bg"] == keys["en"], keys["bg"] ^ keys["en"]


def test_each_area_says_the_same_things_in_both_languages():
    for area in (session_view, console, finance, customer, recording):
        assert set(area.WORDS["bg"]) == set(area.WORDS["en"]), area.__name__


def test_no_word_is_empty_or_left_untranslated():
    for key, bulgarian in MESSAGES["bg"].items():
        assert bulgarian.strip(), key
        assert MESSAGES["en"][key].strip(), key
