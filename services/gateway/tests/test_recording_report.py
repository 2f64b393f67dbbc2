"""The session report's pure parts (recording/report.py): what a person typed stays text, the recording's events
fold into what was done, and the report says what it knows in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from assist_gateway.recording.report import (
    Actions, ReportInput, actions_from_events, actions_from_records, clock, md, render, when,
)
from assist_gateway.web.i18n import MESSAGES

MADE = datetime(2026, 12, 1, 12, 0, 5, tzinfo=UTC)
SESSION = {"session_id": "s-1", "customer": {"name": "Ива", "email": "iva@example.com"}, "consultant": "maria",
           "requested_at": "2026-12-01T11:50:00Z", "started_at": "2026-12-01T11:51:00Z",
           "ended_at": "2026-12-01T11:59:00Z", "ended_by": "customer", "end_reason": "customer_terminated",
           "scopes": ["view", "control"], "service_type": "consultation"}
BILL = {"gross": "12.00", "net": "10.00", "vat": "2.00", "vat_rate": "0.20", "units": 2, "unit_price": "5.00",
        "currency": "EUR", "credited": "0.00", "price_list_version": "2026-01", "duration_seconds": 480}


@pytest.mark.parametrize("typed", [
    "a|b", "*bold*", "_x_", "[link](http://evil)", "<script>", "`code`", "# heading", "~~gone~~", "back\\slash",
], ids=["pipe", "star", "underscore", "link", "html", "backtick", "hash", "tilde", "backslash"])
def test_markup_a_person_typed_is_escaped(typed):
    escaped = md(typed)
    for special in "|*_[]<>`#~":
        assert all(escaped[i - 1] == "\\" for i, char in enumerate(escaped) if char == special), escaped
    assert escaped.replace("\\", "") == typed.replace("\\", "")


def test_line_breaks_a_person_typed_become_spaces():
    assert md("one\n# two\r\n- three\tfour") == "one \\# two - three four"


def test_times_and_durations_are_written_alike_whatever_they_came_as():
    assert when("2026-12-01T12:00:05Z") == when(MADE) == when(MADE.timestamp()) == "2026-12-01 12:00:05 UTC"
    assert when(None) == when("") == "—"
    assert (clock(0), clock(59.9), clock(3661), clock(None)) == ("0:00:00", "0:00:59", "1:01:01", "—")


def test_the_events_fold_into_what_was_done():
    actions = actions_from_events([
        {"at": 1.0, "type": "chat", "role": "customer", "text": "hi"},
        {"at": 2.0, "type": "chat", "role": "consultant", "text": "hello"},
        {"at": 3.0, "type": "chat", "role": "customer", "text": "thanks"},
        {"at": 4.0, "type": "file", "transfer_id": "t1", "direction": "to_customer", "name": "a.pdf", "size": 3,
         "sha256": "ab", "status": "offered"},
        {"at": 5.0, "type": "file", "transfer_id": "t1", "direction": "to_customer", "name": "a.pdf", "size": 3,
         "sha256": "ab", "status": "done"},
        {"at": 6.0, "type": "scope_request", "request_id": "r1", "scopes": ["control"], "reason": "to fix it",
         "status": "pending"},
        {"at": 7.0, "type": "scope_request", "request_id": "r1", "scopes": ["control"], "reason": "to fix it",
         "status": "approved"},
        {"at": 8.0, "type": "observers", "observers": ["sam"]},
        {"at": 9.0, "type": "observers", "observers": ["sam", "ada"]},
        {"at": 10.0, "type": "observers", "observers": []},
    ])
    assert (actions.chat_customer, actions.chat_consultant) == (2, 1)
    assert actions.files == [{"direction": "to_customer", "name": "a.pdf", "size": 3, "sha256": "ab", "status": "done"}]
    assert actions.scope_requests == [{"at": 6.0, "scopes": ["control"], "reason": "to fix it", "status": "approved"}]
    assert actions.observers == ["sam", "ada"]


def test_without_a_recording_the_kept_records_say_what_was_done_and_requests_are_unknown():
    actions = actions_from_records(
        file_transfers=[{"direction": "from_customer", "name": "log.txt", "size": 9, "sha256": "cd",
                         "status": "refused", "transfer_id": "t2"}],
        chat_messages=[{"role": "customer"}, {"role": "consultant"}], observers=["sam"])
    assert (actions.chat_customer, actions.chat_consultant, actions.scope_requests) == (1, 1, None)
    assert actions.files == [{"direction": "from_customer", "name": "log.txt", "size": 9, "sha256": "cd",
                              "status": "refused"}]


def report(**changes) -> ReportInput:
    fields = {"session": SESSION, "service_name": "Консултация", "receipt": None, "bill": BILL, "billed": "billed",
              "recording": {"status": "closed", "started_at": "2026-12-01T11:51:00Z",
                            "ended_at": "2026-12-01T11:59:00Z", "delete_after": "2026-12-31T11:59:00Z"},
              "actions": Actions(scope_requests=[]), "made_at": MADE}
    return ReportInput(**{**fields, **changes})


@pytest.mark.parametrize("lang", ["bg", "en"])
def test_the_report_is_in_the_readers_language_and_has_every_part(lang):
    words = MESSAGES[lang]
    text = render(report(), words)
    for key in ("rr_who", "rr_when", "rr_consent", "rr_actions", "rr_recording", "rr_amount"):
        assert f"## {words[key]}" in text, key
    assert f"- **{words['rr_gross']}:** 12.00 EUR" in text
    assert f"- **{words['rr_duration']}:** 0:08:00" in text
    assert words["party_customer"] in text and words["rr_no_files"] in text


def test_the_amount_says_when_nothing_is_billed_or_the_bill_is_not_ready():
    words = MESSAGES["en"]
    assert words["rr_not_billed"] in render(report(bill=None, billed="not_billed"), words)
    assert words["rr_bill_pending"] in render(report(bill={**BILL, "gross": None}, billed="pending"), words)


def test_a_gone_recording_is_said_to_be_gone_and_none_is_said_to_be_none():
    words = MESSAGES["en"]
    erased = render(report(recording={"status": "erased", "started_at": "2026-12-01T11:51:00Z", "ended_at": None,
                                      "delete_after": None, "erased_at": "2026-12-02T08:00:00Z"}), words)
    assert "The recording was deleted on 2026-12-02 08:00:00 UTC" in erased
    assert words["rr_recording_none"] in render(report(recording=None), words)
