"""The consent rules, every edge, without NATS or a database."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from assist_consent.cut import cuts_by_holder
from assist_consent.domain import (
    ENDPOINTS,
    LANGUAGES,
    REVOKE_REASONS,
    SCOPES,
    as_utc,
    consent_expires_at,
    consent_statement,
    cut_wait_seconds,
    effective_revoked_at,
    is_expired,
    is_in_force,
    lease_expires_at,
    lease_is_live,
    normalize_scopes,
    validate_language,
    validate_reason,
)
from assist_consent.models import Lease
from assist_consent.terms import build_catalog, parse_terms_file_name, terms_catalog, terms_sha256
from assist_consent import domain
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


# --- scopes ----


@pytest.mark.parametrize(
    "requested",
    [list(combo) for size in (1, 2) for combo in itertools.permutations(SCOPES, size)]
    + [["view", "view"], ["control", "control", "view"]],
)
def test_every_non_empty_subset_of_scopes_is_accepted_in_canonical_order(requested):
    assert normalize_scopes(requested) == [scope for scope in SCOPES if scope in requested]


@pytest.mark.parametrize("requested", [[], ["admin"], ["view", "admin"], ["View"], [""], ["view "]])
def test_empty_or_unknown_scopes_are_refused(requested):
    with pytest.raises(ValueError):
        normalize_scopes(requested)


@given(st.lists(st.sampled_from([*SCOPES, "delete", "root", ""]), max_size=6))
def test_scopes_are_accepted_exactly_when_they_are_a_non_empty_subset(requested):
    valid = bool(requested) and set(requested) <= set(SCOPES)
    if valid:
        normalized = normalize_scopes(requested)
        assert set(normalized) == set(requested) and len(normalized) == len(set(requested))
    else:
        with pytest.raises(ValueError):
            normalize_scopes(requested)


# --- reasons, languages, endpoints ----


@pytest.mark.parametrize("reason", REVOKE_REASONS)
def test_each_contract_reason_is_accepted(reason):
    assert validate_reason(reason) == reason


def test_the_reasons_are_exactly_those_of_the_contract():
    # supervisor_ended: issue #13 (a supervisor's end is not the consultant's), documented in docs/commands.md.
    assert set(REVOKE_REASONS) == {
        "customer_terminated",
        "consultant_ended",
        "supervisor_ended",
        "expired",
        "agent_lost",
        "admin",
    }
    assert set(ENDPOINTS) == {"agent", "consultant", "observer", "share"}


@pytest.mark.parametrize("reason", ["", "terminated", "EXPIRED", "customer-terminated", "expired "])
def test_any_other_reason_is_refused(reason):
    with pytest.raises(ValueError):
        validate_reason(reason)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_bulgarian_and_english_are_the_languages(lang):
    assert validate_language(lang) == lang


@pytest.mark.parametrize("lang", ["de", "BG", "", "bg-BG"])
def test_other_languages_are_refused(lang):
    with pytest.raises(ValueError):
        validate_language(lang)


# --- time: in force, expiry, leases ----


def test_a_consent_expires_after_its_maximum_duration():
    assert consent_expires_at(granted_at=T0, max_seconds=14400) == T0 + timedelta(hours=4)


def test_expiry_is_exclusive_at_the_instant_itself():
    assert not is_expired(expires_at=T0, now=T0 - timedelta(microseconds=1))
    assert is_expired(expires_at=T0, now=T0)
    assert is_expired(expires_at=T0, now=T0 + SECOND)


@pytest.mark.parametrize(
    ("revoked_at", "now", "in_force"),
    [
        (None, T0 - SECOND, True),
        (None, T0, False),  # expired exactly now, even before the expiry task revokes it
        (None, T0 + SECOND, False),
        (T0 - 2 * SECOND, T0 - SECOND, False),  # revoked, though not expired
        (T0 - 2 * SECOND, T0 + SECOND, False),
    ],
)
def test_a_consent_is_in_force_only_unrevoked_and_unexpired(revoked_at, now, in_force):
    assert is_in_force(revoked_at=revoked_at, expires_at=T0, now=now) is in_force


def test_naive_datetimes_are_taken_as_utc_and_aware_ones_converted():
    assert as_utc(datetime(2026, 11, 1, 12, 0)) == T0
    sofia = timezone(timedelta(hours=2))
    assert as_utc(datetime(2026, 11, 1, 14, 0, tzinfo=sofia)) == T0
    assert is_in_force(revoked_at=None, expires_at=datetime(2026, 11, 1, 12, 0), now=T0 - SECOND)


def test_a_lease_lasts_its_ttl_and_is_live_until_expired_or_released():
    expires = lease_expires_at(now=T0, ttl_seconds=5)
    assert expires == T0 + 5 * SECOND
    assert lease_is_live(expires_at=expires, released_at=None, now=T0 + 4 * SECOND)
    assert not lease_is_live(expires_at=expires, released_at=None, now=expires)
    assert not lease_is_live(expires_at=expires, released_at=T0 + SECOND, now=T0 + 2 * SECOND)


def test_a_revoke_waits_for_a_silent_holder_until_its_lease_expired_plus_the_margin():
    assert cut_wait_seconds(lease_expires_at=T0 + 5 * SECOND, now=T0, margin_seconds=0.25) == pytest.approx(
        5.25
    )
    assert cut_wait_seconds(lease_expires_at=T0, now=T0 + SECOND, margin_seconds=0.25) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, T0 + 10 * SECOND),  # now
        (T0 + 3 * SECOND, T0 + 3 * SECOND),  # a gateway's queued time is kept
        (T0 - SECOND, T0),  # never before the grant
        (T0 + 60 * SECOND, T0 + 10 * SECOND),  # never in the future
    ],
)
def test_the_effective_revocation_time(requested, expected):
    assert effective_revoked_at(requested=requested, now=T0 + 10 * SECOND, granted_at=T0) == expected


# --- cut requests ----


def _lease(lease_id: str, holder: str, expires_at: datetime) -> Lease:
    return Lease(
        lease_id=lease_id,
        consent_id="c",
        session_id="s",
        holder=holder,
        endpoint="agent",
        acquired_at=T0,
        expires_at=expires_at,
    )


def test_cut_requests_are_one_per_holder_and_wait_for_its_latest_lease():
    cuts = cuts_by_holder(
        [
            _lease("b", "gateway.cut.1", T0 + SECOND),
            _lease("a", "gateway.cut.1", T0 + 3 * SECOND),
            _lease("c", "gateway.cut.2", T0 + 2 * SECOND),
        ]
    )
    by_holder = {cut.holder: cut for cut in cuts}
    assert set(by_holder) == {"gateway.cut.1", "gateway.cut.2"}
    assert by_holder["gateway.cut.1"].lease_ids == ("a", "b")
    assert by_holder["gateway.cut.1"].latest_expiry == T0 + 3 * SECOND
    assert by_holder["gateway.cut.2"].lease_ids == ("c",)
    assert cuts_by_holder([]) == []


# --- the receipt's statement ----


@pytest.mark.parametrize(
    ("lang", "scopes", "phrase"),
    [
        ("bg", ["view"], "само преглед"),
        ("bg", ["view", "control"], "преглед и управление"),
        ("en", ["view"], "view only"),
        ("en", ["control"], "view and control"),
        ("en", ["view", "files", "clipboard"], "view, file transfer and clipboard"),
        ("bg", ["view", "control", "files"], "преглед, управление и прехвърляне на файлове"),
    ],
)
def test_the_statement_says_what_was_consented_to_in_one_line(lang, scopes, phrase):
    statement = consent_statement(
        customer_name="Ana",
        scopes=scopes,
        session_id="s-9",
        terms_version="2026-11-01",
        expires_at=T0,
        lang=lang,
    )
    assert phrase in statement and "Ana" in statement and "s-9" in statement and "2026-11-01" in statement
    assert "2026-11-01 12:00 UTC" in statement and "\n" not in statement


# --- terms ----


def test_terms_file_names_give_version_and_language():
    assert parse_terms_file_name("2026-11-01.bg.md") == ("2026-11-01", "bg")
    assert parse_terms_file_name("2027-01-15.en.md") == ("2027-01-15", "en")
    for other in ("README.md", "2026-11-01.md", "2026-11-01.bg.txt", "v1.bg.md", "__init__.py"):
        assert parse_terms_file_name(other) is None


def test_the_sha256_of_terms_is_of_their_utf8_text():
    text = "Общи условия\n"
    assert terms_sha256(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert terms_sha256(text) != terms_sha256(text.rstrip("\n"))


def test_the_current_version_is_the_newest():
    catalog = build_catalog(
        {
            "2026-11-01.bg.md": "стари",
            "2026-11-01.en.md": "old",
            "2027-02-01.bg.md": "нови",
            "2027-02-01.en.md": "new",
            "notes.txt": "ignored",
        }
    )
    assert catalog.current_version == "2027-02-01" and catalog.versions == ["2026-11-01", "2027-02-01"]
    assert catalog.current().lang == "bg" and catalog.current().text == "нови"
    assert catalog.current("en").text == "new"
    assert catalog.get("2026-11-01", "en").sha256 == terms_sha256("old")
    assert catalog.get("2020-01-01") is None


def test_a_version_missing_a_language_or_in_an_unknown_one_is_refused():
    with pytest.raises(ValueError, match="lacks"):
        build_catalog({"2026-11-01.bg.md": "само български"})
    with pytest.raises(ValueError, match="unknown language"):
        build_catalog({"2026-11-01.bg.md": "б", "2026-11-01.en.md": "e", "2026-11-01.de.md": "d"})
    with pytest.raises(ValueError):
        build_catalog({})


@pytest.mark.parametrize(
    ("lang", "phrases"),
    [
        (
            "bg",
            [
                "ценова листа",
                "различни за различните видове услуги",
                "изрично дава съгласие",
                "отдалечен достъп",
                "само за времето на консултацията",
                "по всяко време",
                "незабавно",
                "използваното до момента време",
                "достъп до интернет",
                "техническите изисквания",
                "Защитни стени",
                "антивирусен софтуер",
            ],
        ),
        (
            "en",
            [
                "price list",
                "Prices differ by type of service",
                "explicitly consents",
                "remote access",
                "only for the duration of the consultation",
                "at any time",
                "immediately",
                "time used",
                "internet access",
                "technical requirements",
                "Firewalls",
                "antivirus software",
            ],
        ),
    ],
)
def test_the_shipped_terms_say_what_the_customer_agrees_to(lang, phrases):
    document = terms_catalog().current(lang)
    for phrase in phrases:
        assert phrase in document.text, f"{lang} terms do not say {phrase!r}"
    assert document.text.startswith("# ") and "## 1." in document.text and "1.1." in document.text
    assert document.sha256 == hashlib.sha256(document.text.encode("utf-8")).hexdigest()


# Issue #19: recording is disclosed in the terms (what, how long, who sees it, the customer's replay, download and
# erasure); 2026-12-01 is the first version that says so, and every later one must keep saying it.
RECORDING_CLAUSE = {
    "bg": ["## 6. Записване на консултацията", "„Записва се“", "терминалът", "във формат asciicast",
           "екранът на клиента", "чатът", "името, размерът и отпечатъкът (SHA-256)", "даване и оттегляне на достъп",
           "приключването на консултацията", "Съдържанието на клипборда на клиента",
           "съдържанието на прехвърлените файлове не се записват", "30 дни", "автоматична задача",
           "никога не се изтриват заедно със записа", "връзката към своята сесия", "консултантът, на когото е",
           "супервайзорите", "се отбелязва в журнал", "да възпроизведе записа", "да го изтегли", "да го изтрие"],
    "en": ["## 6. Recording of the consultation", '"Recorded"', "the terminal", "in the asciicast format",
           "the customer's screen", "the chat", "name, size and fingerprint (SHA-256)",
           "every grant and withdrawal of access", "the end of the consultation",
           "content of the customer's clipboard", "content of transferred files are not recorded", "30 days",
           "automatic job", "never deleted with the recording", "the link to their session",
           "consultant assigned to the consultation", "supervisors", "is logged", "replay the recording",
           "download it", "erase it"],
}


@pytest.mark.parametrize("lang", ["bg", "en"])
def test_the_shipped_terms_disclose_the_recording(lang):
    catalog = terms_catalog()
    assert catalog.current_version >= "2026-12-01" and "2026-12-01" in catalog.versions
    text = catalog.current(lang).text
    flat = " ".join(text.split())  # the clause's words, wherever its lines break
    for phrase in RECORDING_CLAUSE[lang]:
        assert " ".join(phrase.split()) in flat, f"{lang} terms do not say {phrase!r}"
    # The version before did not: a consent under it was not to a recording.
    assert "asciicast" not in catalog.get("2026-11-30", lang).text


T1, T2, T3 = "2026-11-29T10:00:00Z", "2026-11-29T10:05:00.250000Z", "2026-11-29T10:10:00Z"


@pytest.mark.parametrize(
    ("granted", "withdrawals", "step_ups", "in_force"),
    [
        (["view", "control"], None, None, ["view", "control"]),
        (["view"], None, None, ["view"]),
        (["view", "control"], {"control": T1}, None, ["view"]),
        (["view"], None, {"control": T1}, ["view", "control"]),  # stepped up
        (["view", "control"], {"control": T1}, {"control": T2}, ["view", "control"]),  # back by a later approval
        (["view", "control"], {"control": T2}, {"control": T1}, ["view"]),  # withdrawn after it was stepped up
        (["view"], {"control": T3}, {"control": T2}, ["view"]),
        (["control", "view"], {}, {}, ["view", "control"]),  # canonical order, empty maps as none
    ],
)
def test_the_latest_change_of_each_scope_decides_what_is_in_force(granted, withdrawals, step_ups, in_force):
    assert domain.scopes_in_force(granted, withdrawals, step_ups) == in_force


@pytest.mark.parametrize(
    ("requested", "held", "missing"),
    [(["control"], ["view"], ["control"]), (["control", "view"], ["view"], ["control"]),
     (["view"], ["view", "control"], []), (["control"], ["view", "control"], [])],
)
def test_a_step_up_asks_only_for_what_is_not_held(requested, held, missing):
    assert domain.missing_scopes(requested, held) == missing


def test_an_answer_is_an_approval_or_a_final_refusal():
    assert domain.decision_status(True) == domain.APPROVED == "approved"
    assert domain.decision_status(False) == domain.REFUSED == "refused"
