"""Terms, grants, consent views and receipts, over a real nats-server and a real database."""

from __future__ import annotations

import hashlib

import pytest
from assist_consent.terms import terms_catalog
from assist_contract import consent as contract
from assist_platform.envelope import CloudEvent
from assist_platform.problems import Problem

CUSTOMER = {"name": "Мария Иванова", "email": "maria@example.bg", "company": "Иванови ООД"}


def grant_request(session_id: str = "s-1", **changes) -> dict:
    request = {
        "session_id": session_id,
        "customer": CUSTOMER,
        "terms_version": terms_catalog().current_version,
        "scopes": ["control", "view"],
        "client_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (test)",
    }
    request.update(changes)
    return request


async def test_terms_are_bulgarian_by_default_and_their_sha256_is_of_the_utf8_text(consent_runtime, call):
    bulgarian = await call(contract.terms.subject, {})
    english = await call(contract.terms.subject, {"lang": "en"})
    assert bulgarian["lang"] == "bg" and english["lang"] == "en"
    assert bulgarian["version"] == english["version"] == terms_catalog().current_version
    for terms in (bulgarian, english):
        assert terms["sha256"] == hashlib.sha256(terms["text"].encode("utf-8")).hexdigest()
    assert "съгласие" in bulgarian["text"] and "consent" in english["text"]


async def test_terms_in_an_unknown_language_are_refused_with_422(consent_runtime, call):
    with pytest.raises(Problem) as refused:
        await call(contract.terms.subject, {"lang": "de"})
    assert refused.value.status == 422


async def test_grant_publishes_consent_granted_with_the_event_id_as_nats_msg_id(consent_runtime, call, nc):
    subscription = await nc.jetstream().subscribe("consent.granted", ordered_consumer=True)
    result = await call(contract.grant.subject, grant_request())
    msg = await subscription.next_msg(timeout=10)
    event = CloudEvent.from_bytes(msg.data)

    assert msg.headers["Nats-Msg-Id"] == event.id
    assert event.type == "consent.granted" and event.subject == "s-1" and event.source == "assist/consent"
    assert event.data["consent_id"] == result["consent_id"]
    assert event.data["session_id"] == "s-1"
    assert event.data["customer"] == CUSTOMER
    assert event.data["terms_version"] == terms_catalog().current_version
    assert event.data["terms_sha256"] == terms_catalog().current("bg").sha256
    assert event.data["scopes"] == ["view", "control"]
    assert (
        event.data["granted_at"] == result["granted_at"] and event.data["expires_at"] == result["expires_at"]
    )


async def test_grant_expires_after_the_configured_maximum_duration(consent_runtime, call):
    from datetime import datetime

    result = await call(contract.grant.subject, grant_request())
    granted = datetime.fromisoformat(result["granted_at"])
    expires = datetime.fromisoformat(result["expires_at"])
    assert (expires - granted).total_seconds() == pytest.approx(consent_runtime.settings.consent_max_seconds)


async def test_grant_under_terms_that_are_not_current_is_refused_with_409(consent_runtime, call):
    with pytest.raises(Problem) as refused:
        await call(contract.grant.subject, grant_request(terms_version="2020-01-01"))
    assert refused.value.status == 409
    assert refused.value.extra["current_version"] == terms_catalog().current_version


@pytest.mark.parametrize("scopes", [[], ["admin"], ["view", "delete"]])
async def test_grant_with_bad_scopes_is_refused_with_422(consent_runtime, call, scopes):
    with pytest.raises(Problem) as refused:
        await call(contract.grant.subject, grant_request(scopes=scopes))
    assert refused.value.status == 422


async def test_a_session_has_one_consent_only(consent_runtime, call):
    await call(contract.grant.subject, grant_request())
    with pytest.raises(Problem) as refused:
        await call(contract.grant.subject, grant_request())
    assert refused.value.status == 409


async def test_get_tells_whether_the_consent_is_in_force(consent_runtime, call):
    granted = await call(contract.grant.subject, grant_request(scopes=["view"]))
    view = await call(contract.get.subject, {"session_id": "s-1"})
    assert (
        view["in_force"] is True
        and view["scopes"] == ["view"]
        and view["consent_id"] == granted["consent_id"]
    )
    assert view["revoked_at"] is None and view["reason"] is None

    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "consultant_ended"})
    view = await call(contract.get.subject, {"session_id": "s-1"})
    assert view["in_force"] is False and view["reason"] == "consultant_ended" and view["revoked_at"]


async def test_get_and_receipt_of_an_unknown_session_are_404(consent_runtime, call):
    for subject in (contract.get.subject, contract.receipt.subject, contract.revoke.subject):
        payload = {"session_id": "nobody"} | ({"reason": "admin"} if subject == contract.revoke.subject else {})
        with pytest.raises(Problem) as missing:
            await call(subject, payload)
        assert missing.value.status == 404


async def test_receipt_records_what_was_consented_to_and_how_it_ended(consent_runtime, call):
    granted = await call(contract.grant.subject, grant_request(lang="en"))
    receipt = await call(contract.receipt.subject, {"session_id": "s-1"})
    assert receipt["receipt_id"] and receipt["receipt_id"] != granted["consent_id"]
    assert receipt["consent_id"] == granted["consent_id"] and receipt["session_id"] == "s-1"
    assert receipt["customer"] == CUSTOMER
    assert receipt["scopes"] == ["view", "control"]
    english = terms_catalog().current("en")
    assert receipt["terms"] == {"version": english.version, "sha256": english.sha256, "lang": "en"}
    assert receipt["granted_at"] == granted["granted_at"] and receipt["expires_at"] == granted["expires_at"]
    assert receipt["client_address"] == "203.0.113.7" and receipt["user_agent"] == "Mozilla/5.0 (test)"
    assert receipt["issuer"] == consent_runtime.settings.consent_issuer
    assert receipt["revoked_at"] is None and receipt["reason"] is None
    assert "Мария Иванова" in receipt["statement"] and "view and control" in receipt["statement"]
    assert "\n" not in receipt["statement"]

    revoked = await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    receipt_after = await call(contract.receipt.subject, {"session_id": "s-1"})
    assert receipt_after["revoked_at"] == revoked["revoked_at"]
    assert receipt_after["reason"] == "customer_terminated"
    assert receipt_after["receipt_id"] == receipt["receipt_id"]


async def test_receipt_statement_is_in_bulgarian_for_bulgarian_terms(consent_runtime, call):
    await call(contract.grant.subject, grant_request(scopes=["view"]))
    receipt = await call(contract.receipt.subject, {"session_id": "s-1"})
    assert receipt["terms"]["lang"] == "bg"
    assert "само преглед" in receipt["statement"] and "съгласие" in receipt["statement"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"terms_version": 20261101}, "terms_version"),
    ({"scopes": "view"}, "scopes"),
    ({"scopes": [True]}, "scopes.0"),
    ({"session_id": 1}, "session_id"),
    ({"customer": {**CUSTOMER, "name": True}}, "customer.name"),
    ({"customer": {**CUSTOMER, "email": 1.5}}, "customer.email"),
])
async def test_a_grant_takes_identity_scopes_and_terms_only_as_strings_and_names_the_wrong_field(
    consent_runtime, call, changes, field
):
    with pytest.raises(Problem) as refused:
        await call(contract.grant.subject, {**grant_request(session_id="s-strict"), **changes})
    problem = refused.value
    assert problem.status == 422 and problem.detail.startswith(f"{field}: ")
    assert field in [error["field"] for error in problem.extra["errors"]]
    assert "GrantInput" not in str(problem.to_dict()) and "validation error for" not in problem.detail
    # Nothing was granted: the session may still be given its consent.
    assert (await call(contract.grant.subject, grant_request(session_id="s-strict")))["session_id"] == "s-strict"
