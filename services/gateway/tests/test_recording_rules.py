"""The recordings' pure rules (recording/rules.py) and the playback links' secret (recording/links.py)."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from assist_gateway.recording.links import SECRET_FILE, PlaybackLinks, secret_from_data_dir
from assist_gateway.recording.rules import (
    GONE_STATUSES,
    KEPT_STATUSES,
    MAX_TICKET_LENGTH,
    TicketVerdict,
    check_ticket,
    deletion_deadline,
    is_due,
    retention_of,
    sign_ticket,
    ticket_expiry,
)
from assist_gateway.settings import Settings
from assist_platform.problems import Problem

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = timedelta(days=30)
SECRET = b"s" * 32
SESSION = "7d4a1c2e-0000-4000-8000-000000000001"
OTHER_SESSION = "7d4a1c2e-0000-4000-8000-000000000002"


# --- retention -----------------------------------------------------------------------------------------------------

def test_a_closed_recording_is_deleted_at_its_delete_after_not_before():
    closed = {"status": "closed", "started_at": NOW - 40 * DAY, "retention": RETENTION}
    assert not is_due(**closed, delete_after=NOW + timedelta(seconds=1), now=NOW)
    assert is_due(**closed, delete_after=NOW, now=NOW)
    assert is_due(**closed, delete_after=NOW - DAY, now=NOW)


def test_a_recording_never_closed_is_deleted_its_retention_after_its_start():
    # A replica that died while recording never set delete_after: the start still bounds how long it is kept.
    running = {"status": "recording", "delete_after": None, "retention": RETENTION, "now": NOW}
    assert not is_due(**running, started_at=NOW - RETENTION + timedelta(seconds=1))
    assert is_due(**running, started_at=NOW - RETENTION)


def test_delete_after_counts_when_set_even_if_the_start_was_long_ago():
    assert deletion_deadline(started_at=NOW - 90 * DAY, delete_after=NOW + DAY, retention=RETENTION) == NOW + DAY
    assert deletion_deadline(started_at=NOW, delete_after=None, retention=RETENTION) == NOW + RETENTION


@pytest.mark.parametrize("status", GONE_STATUSES)
def test_an_erased_or_expired_recording_is_never_due_again(status):
    assert not is_due(status=status, started_at=NOW - 90 * DAY, delete_after=NOW - 60 * DAY, retention=RETENTION,
                      now=NOW)


@pytest.mark.parametrize("status", KEPT_STATUSES)
@pytest.mark.parametrize("started_days_ago", [0, 29, 30, 31])
@pytest.mark.parametrize("delete_after_days", [None, -1, 0, 1])
def test_a_kept_recording_is_due_exactly_when_its_deadline_has_come(status, started_days_ago, delete_after_days):
    started_at = NOW - started_days_ago * DAY
    delete_after = None if delete_after_days is None else NOW + delete_after_days * DAY
    expected = delete_after <= NOW if delete_after is not None else started_days_ago >= 30
    assert is_due(status=status, started_at=started_at, delete_after=delete_after, retention=RETENTION,
                  now=NOW) is expected


def test_a_class_without_its_own_retention_keeps_the_default_classes():
    days = {"standard": 30}
    assert retention_of("standard", days) == timedelta(days=30)
    assert retention_of("legal_hold_removed", days) == timedelta(days=30)
    with pytest.raises(ValueError):
        retention_of("standard", {})


# --- tickets -------------------------------------------------------------------------------------------------------

def test_a_ticket_opens_its_session_until_it_expires():
    ticket = sign_ticket(secret=SECRET, session_id=SESSION, expires=1000)
    assert check_ticket(secret=SECRET, ticket=ticket, session_id=SESSION, now=999.9) is TicketVerdict.VALID
    assert check_ticket(secret=SECRET, ticket=ticket, session_id=SESSION, now=1000) is TicketVerdict.EXPIRED
    assert len(ticket) <= MAX_TICKET_LENGTH


def test_a_ticket_of_another_session_or_another_secret_is_invalid():
    ticket = sign_ticket(secret=SECRET, session_id=SESSION, expires=1000)
    assert check_ticket(secret=SECRET, ticket=ticket, session_id=OTHER_SESSION, now=0) is TicketVerdict.INVALID
    assert check_ticket(secret=b"t" * 32, ticket=ticket, session_id=SESSION, now=0) is TicketVerdict.INVALID


def test_a_ticket_with_a_later_expiry_written_in_is_invalid():
    ticket = sign_ticket(secret=SECRET, session_id=SESSION, expires=1000)
    mac = ticket.split(".", 1)[1]
    assert check_ticket(secret=SECRET, ticket=f"9999999999.{mac}", session_id=SESSION,
                        now=2000) is TicketVerdict.INVALID


def test_a_forged_expired_ticket_is_invalid_not_expired():
    # A stranger's guess is told nothing about expiry: only a genuine ticket can be "expired".
    forged = "1." + "A" * 43
    assert check_ticket(secret=SECRET, ticket=forged, session_id=SESSION, now=5) is TicketVerdict.INVALID


@pytest.mark.parametrize("ticket", [
    "", ".", "1000", "1000.", "-1.abc", "1000." + "A" * 42, "1000." + "A" * 44, "1000." + "A" * 42 + "=",
    "10 00." + "A" * 43, "1000.\n" + "A" * 43, "x" * 500,
], ids=["empty", "dot", "no-mac", "empty-mac", "negative", "short-mac", "long-mac", "padded", "space",
        "newline", "long"])
def test_malformed_tickets_are_invalid(ticket):
    assert check_ticket(secret=SECRET, ticket=ticket, session_id=SESSION, now=0) is TicketVerdict.INVALID


def test_a_genuine_ticket_with_a_trailing_newline_is_invalid():
    ticket = sign_ticket(secret=SECRET, session_id=SESSION, expires=1000)
    assert check_ticket(secret=SECRET, ticket=ticket + "\n", session_id=SESSION, now=0) is TicketVerdict.INVALID


def test_a_tickets_expiry_is_read_from_a_well_formed_one_only():
    assert ticket_expiry(sign_ticket(secret=SECRET, session_id=SESSION, expires=1234)) == 1234
    assert ticket_expiry("1234") is None and ticket_expiry("x" * 500) is None


def test_no_ticket_is_signed_or_valid_without_a_secret():
    with pytest.raises(ValueError):
        sign_ticket(secret=b"", session_id=SESSION, expires=1000)
    ticket = sign_ticket(secret=SECRET, session_id=SESSION, expires=1000)
    assert check_ticket(secret=b"", ticket=ticket, session_id=SESSION, now=0) is TicketVerdict.INVALID


# --- the links' secret ---------------------------------------------------------------------------------------------

def test_without_a_configured_secret_every_process_on_one_data_dir_gets_the_same_one(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: secret_from_data_dir(tmp_path), range(16)))
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [SECRET_FILE]  # no scratch file left behind


def test_links_minted_by_one_replica_are_valid_at_another_sharing_the_data_dir(tmp_path):
    settings = Settings(assist_data_dir=tmp_path)
    url, expires = PlaybackLinks.from_settings(settings).mint(SESSION, now=1000)
    assert url.startswith(f"/recordings/{SESSION}?ticket=") and expires == 1000 + settings.recording_link_seconds
    ticket = url.split("ticket=", 1)[1]
    other_replica = PlaybackLinks.from_settings(Settings(assist_data_dir=tmp_path))
    assert other_replica.check(ticket, SESSION, now=1001) is TicketVerdict.VALID
    assert other_replica.check(ticket, SESSION, now=expires) is TicketVerdict.EXPIRED


def test_a_configured_secret_is_used_and_no_file_is_written(tmp_path):
    settings = Settings(assist_data_dir=tmp_path / "data", recording_link_secret="k" * 40)
    url, _ = PlaybackLinks.from_settings(settings).mint(SESSION, now=0)
    ticket = url.split("ticket=", 1)[1]
    assert check_ticket(secret=b"k" * 40, ticket=ticket, session_id=SESSION, now=1) is TicketVerdict.VALID
    assert not (tmp_path / "data").exists()


def test_a_data_dir_that_cannot_be_written_turns_links_off_with_503(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    links = PlaybackLinks.from_settings(Settings(assist_data_dir=blocked / "data"))
    with pytest.raises(Problem) as refused:
        links.mint(SESSION)
    assert refused.value.status == 503


def test_a_short_configured_secret_is_refused_at_start():
    with pytest.raises(ValueError):
        Settings(recording_link_secret="too short")
