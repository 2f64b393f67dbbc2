"""A session's recording through the gateway's API (issue #19): read back merged by time, the asciicast and the screen
stream, the report, the customer's playback link and erasure, and the retention sweep; with the consent, session and
billing services in-process on a real nats-server (the object store) and database. The recording is written as the
recorder writes one (tests/support/recording_writer.py): these tests are about reading and deleting it.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from datetime import timedelta

import pytest
from assist_gateway import crud
from assist_gateway.recording import format as fmt
from assist_gateway.recording.retention import sweep_once
from assist_platform.audit import AuditEntry, audit_trail
from assist_platform.envelope import utcnow
from recording_writer import Part, objects_left, solid_tile_frame, write_recording
from sqlmodel import select

ASCIICAST = "application/x-asciicast"
RETENTION_DAYS = {"standard": 30.0}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def help_request(gateway, *, claimed_by: dict | None = None) -> dict:
    terms = (await gateway.client.get("/api/v1/terms")).json()
    response = await gateway.client.post("/api/v1/help-requests", json={
        "customer": {"name": "Ива <b>Петрова</b>", "email": "iva@example.com"},
        "service_type": "consultation", "description": "My printer does not print.",
        "consent": {"accepted": True, "terms_version": terms["version"], "scopes": ["view", "control"]}})
    assert response.status_code == 201, response.text
    created = response.json()
    if claimed_by is not None:
        claimed = await gateway.client.post(f"/api/v1/sessions/{created['session_id']}/claim", headers=claimed_by)
        assert claimed.status_code == 200, claimed.text
    return created


def two_parts(start: float) -> list[Part]:
    """A consultant who reconnected: the second part begins while the first is still writing (times interleave)."""
    first = Part(started_at=start, segments=2, terminal=[
        (start + 0.0, "r", "100x30"), (start + 0.5, "o", "first\r\n"), (start + 1.0, "i", "ls\r"),
        (start + 3.0, "o", "third\r\n")],
        screen=[(start + 0.2 + i * 0.01, fmt.AGENT_SCREEN, message)
                for i, message in enumerate(solid_tile_frame(1, 128, 64, (255, 0, 0)))],
        events=[{"at": start, "type": "recording_started", "part": "p1", "replica": "gw1"},
                {"at": start, "type": "scopes", "scopes": ["view", "control"]},
                {"at": start + 1.5, "type": "chat", "role": "customer", "author": "Ива", "text": "hi"},
                {"at": start + 2.5, "type": "file", "transfer_id": "t1", "direction": "to_customer",
                 "name": "report|final*.pdf", "size": 1234, "sha256": "ab" * 32, "status": "offered"},
                {"at": start + 3.5, "type": "part_end"}])
    second = Part(started_at=start + 2.0, terminal=[(start + 2.0, "o", "second\r\n"), (start + 4.0, "o", "fourth")],
                  screen=[(start + 2.1, fmt.BROWSER_SCREEN, message)
                          for message in solid_tile_frame(1, 64, 64, (0, 0, 255))],
                  events=[{"at": start + 2.0, "type": "recording_started", "part": "p2", "replica": "gw2"},
                          {"at": start + 2.6, "type": "file", "transfer_id": "t1", "direction": "to_customer",
                           "name": "report|final*.pdf", "size": 1234, "sha256": "ab" * 32, "status": "done"},
                          {"at": start + 4.5, "type": "end", "reason": "customer_terminated"}])
    return [first, second]


def screen_records(data: bytes) -> list[tuple[float, int, bytes]]:
    records, offset = [], 0
    while offset < len(data):
        at, channel, length = struct.unpack_from(">dBI", data, offset)
        records.append((at, channel, data[offset + 13:offset + 13 + length]))
        offset += 13 + length
    return records


async def test_a_recording_is_read_back_with_its_parts_merged_by_time(system):
    maria = await system.staff_headers("maria", "consultant")
    created = await help_request(system, claimed_by=maria)
    session_id, customer = created["session_id"], bearer(created["customer_token"])
    recordings = system.app.state.recordings
    start = time.time() - 60
    await write_recording(database=system.runtime.database, store=recordings.store, session_id=session_id,
                          parts=two_parts(start), closed_at=start + 5)

    index = await system.client.get(f"/api/v1/sessions/{session_id}/recording", headers=customer)
    assert index.status_code == 200, index.text
    body = index.json()
    assert (body["status"], body["terminal"], body["has_screen"], body["screen_channels"]) == (
        "closed", {"width": 100, "height": 30, "has_output": True}, True, [2, 6])
    assert body["duration_seconds"] == pytest.approx(5.0, abs=0.01)
    assert [(event["type"], event["offset"]) for event in body["events"]] == [
        ("recording_started", 0.0), ("scopes", 0.0), ("chat", 1.5), ("recording_started", 2.0), ("file", 2.5),
        ("file", 2.6), ("part_end", 3.5), ("end", 4.5)]
    assert body["events"][2]["text"] == "hi" and body["events"][2]["at"].endswith("Z")
    assert [part["offset"] for part in body["parts"]] == [0.0, 2.0]

    cast = await system.client.get(f"/api/v1/sessions/{session_id}/recording/terminal.cast", headers=customer)
    assert cast.status_code == 200 and cast.headers["content-type"].startswith(ASCIICAST)
    assert cast.headers["content-disposition"] == f'attachment; filename="session-{session_id}.cast"'
    header, *lines = [json.loads(line) for line in cast.text.splitlines()]
    assert (header["version"], header["width"], header["height"], header["timestamp"]) == (2, 100, 30, int(start))
    assert [(round(t, 3), code, data) for t, code, data in lines[:6]] == [
        (0.0, "r", "100x30"), (0.5, "o", "first\r\n"), (1.0, "i", "ls\r"), (2.0, "o", "second\r\n"),
        (3.0, "o", "third\r\n"), (4.0, "o", "fourth")]
    assert lines[-1][0] == pytest.approx(5.0, abs=0.01)  # the file lasts as long as the recording

    screen = await system.client.get(f"/api/v1/sessions/{session_id}/recording/screen", headers=customer)
    assert screen.status_code == 200 and screen.headers["content-type"] == "application/octet-stream"
    records = screen_records(screen.content)
    assert [at for at, _, _ in records] == sorted(at for at, _, _ in records)
    assert records[0][0] == pytest.approx(0.2, abs=0.001) and {channel for _, channel, _ in records} == {2, 6}
    assert records[0][2][0] == 0 and struct.unpack(">HH", records[0][2][5:9]) == (128, 64)  # frame begin, size

    view = (await system.client.get(f"/api/v1/sessions/{session_id}", headers=customer)).json()
    assert view["recording"]["status"] == "closed" and view["recording"]["delete_after"].endswith("Z")


async def test_the_report_is_markdown_in_the_readers_language_with_what_a_person_typed_escaped(system):
    maria = await system.staff_headers("maria", "consultant")
    created = await help_request(system, claimed_by=maria)
    session_id, customer = created["session_id"], bearer(created["customer_token"])
    start = time.time() - 60
    await write_recording(database=system.runtime.database, store=system.app.state.recordings.store,
                          session_id=session_id, parts=two_parts(start), closed_at=start + 5)
    bulgarian = await system.client.get(f"/api/v1/sessions/{session_id}/recording/report", headers=customer)
    assert bulgarian.status_code == 200, bulgarian.text
    assert bulgarian.headers["content-type"] == "text/markdown; charset=utf-8"
    assert bulgarian.headers["content-disposition"] == f'attachment; filename="session-report-{session_id}.md"'
    text = bulgarian.text
    assert text.startswith(f"# Отчет за сесия {session_id}")
    assert "Ива \\<b\\>Петрова\\</b\\>" in text and "<b>" not in text  # the customer's name, as text
    assert "| към клиента | report\\|final\\*.pdf | 1234 | `" + "ab" * 32 + "` | прехвърлен |" in text
    assert "Съобщения в чата: 1 (от клиента: 1, от консултанта: 0)" in text
    assert "Сесията не е започнала: не се таксува." in text  # never active: nothing billed
    english = await system.client.get(f"/api/v1/sessions/{session_id}/recording/report?lang=en", headers=maria)
    assert english.status_code == 200 and english.text.startswith(f"# Session report {session_id}")
    assert "- **Consultant:** maria" in english.text


async def test_a_playback_link_reads_its_session_only_until_it_expires_and_never_erases(system):
    maria = await system.staff_headers("maria", "consultant")
    created = await help_request(system, claimed_by=maria)
    other = await help_request(system, claimed_by=maria)
    session_id, customer = created["session_id"], bearer(created["customer_token"])
    store, database = system.app.state.recordings.store, system.runtime.database
    start = time.time() - 30
    for session in (created, other):
        await write_recording(database=database, store=store, session_id=session["session_id"],
                              parts=two_parts(start), closed_at=start + 5)

    assert (await system.client.post(f"/api/v1/sessions/{session_id}/recording/link",
                                     headers=maria)).status_code == 403  # staff mint no links
    minted = await system.client.post(f"/api/v1/sessions/{session_id}/recording/link", headers=customer)
    assert minted.status_code == 200, minted.text
    url, ticket = minted.json()["url"], minted.json()["url"].split("ticket=", 1)[1]
    assert url == f"/recordings/{session_id}?ticket={ticket}"
    for path in ("", "/terminal.cast", "/screen", "/report"):
        read = await system.client.get(f"/api/v1/sessions/{session_id}/recording{path}?ticket={ticket}")
        assert read.status_code == 200, (path, read.text)
    foreign = await system.client.get(f"/api/v1/sessions/{other['session_id']}/recording?ticket={ticket}")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "recording_link_invalid")
    past, _ = system.app.state.playback_links.mint(session_id, now=time.time() - 2 * 86400)
    expired = await system.client.get(f"/api/v1/sessions/{session_id}/recording?ticket={past.split('ticket=')[1]}")
    assert (expired.status_code, expired.json()["code"]) == (403, "recording_link_expired")
    # A ticket is no credential for anything else: erasure and minting want the customer's token.
    erase = f"/api/v1/sessions/{session_id}/recording/erase"
    assert (await system.client.post(f"{erase}?ticket={ticket}")).status_code == 401
    assert (await system.client.post(f"/api/v1/sessions/{session_id}/recording/link?ticket={ticket}")
            ).status_code == 401
    assert (await system.client.get(f"/api/v1/sessions/{session_id}?ticket={ticket}")).status_code == 401


async def test_the_customer_erases_the_recording_at_once_and_the_erasure_is_audited(system):
    maria = await system.staff_headers("maria", "consultant")
    created = await help_request(system, claimed_by=maria)
    session_id, customer = created["session_id"], bearer(created["customer_token"])
    store, database = system.app.state.recordings.store, system.runtime.database
    names = await write_recording(database=database, store=store, session_id=session_id,
                                  parts=two_parts(time.time() - 30), closed_at=time.time() - 20)
    assert await objects_left(store, names) == names
    receipt_before = await system.client.get(f"/api/v1/sessions/{session_id}/consent-receipt", headers=customer)

    erase = f"/api/v1/sessions/{session_id}/recording/erase"
    assert (await system.client.post(erase, headers=maria)).status_code == 403
    erased = await system.client.post(erase, headers=customer)
    assert erased.status_code == 200, erased.text
    assert erased.json()["status"] == "erased" and erased.json()["erased_at"].endswith("Z")
    assert await objects_left(store, names) == []  # gone from the object store itself
    async with database.session() as db:
        assert await crud.recording_objects_of(db=db, session_id=session_id) == []
        row = await crud.recording_of(db=db, session_id=session_id)
    assert (row.status, row.erased_by) == ("erased", "customer")
    gone = await system.client.get(f"/api/v1/sessions/{session_id}/recording", headers=customer)
    assert (gone.status_code, gone.json()["code"]) == (410, "recording_erased")
    assert (await system.client.post(f"/api/v1/sessions/{session_id}/recording/link",
                                     headers=customer)).status_code == 410
    again = await system.client.post(erase, headers=customer)
    assert again.status_code == 200 and again.json() == erased.json()  # asking again answers the same
    entries = (await audit_trail(database, service="gateway", session_id=session_id)).entries
    [entry] = [entry for entry in entries if entry.action == "recording.erased"]
    assert entry.actor == "customer" and entry.detail["objects"] == len(names)
    # The consent receipt is consent's, untouched; the report still comes, saying the recording is gone.
    receipt_after = await system.client.get(f"/api/v1/sessions/{session_id}/consent-receipt", headers=customer)
    assert receipt_after.status_code == receipt_before.status_code == 200
    assert receipt_after.json() == receipt_before.json()
    report = await system.client.get(f"/api/v1/sessions/{session_id}/recording/report?lang=en", headers=customer)
    assert report.status_code == 200 and "The recording was deleted on " in report.text
    view = (await system.client.get(f"/api/v1/sessions/{session_id}", headers=customer)).json()
    assert view["recording"]["status"] == "erased"


async def test_the_sweep_deletes_only_recordings_past_their_retention_once_and_audits_each_run(system):
    maria = await system.staff_headers("maria", "consultant")
    old, fresh, open_too_long = [await help_request(system, claimed_by=maria) for _ in range(3)]
    store, database = system.app.state.recordings.store, system.runtime.database
    now = time.time()
    old_names = await write_recording(database=database, store=store, session_id=old["session_id"],
                                      parts=two_parts(now - 100), closed_at=now - 90, retention=timedelta(seconds=60))
    fresh_names = await write_recording(database=database, store=store, session_id=fresh["session_id"],
                                        parts=two_parts(now - 100), closed_at=now - 90)
    # Never closed (its replica died with it): its start plus the retention bounds it.
    open_names = await write_recording(database=database, store=store, session_id=open_too_long["session_id"],
                                       parts=two_parts(now - 31 * 86400))

    # Two replicas sweep at once: each recording is claimed by one of them.
    runs = await asyncio.gather(*(sweep_once(database=database, store=store, retention_days=RETENTION_DAYS,
                                             replica=replica) for replica in ("gw1", "gw2")))
    assert sum(run.expired for run in runs) == 2 and sum(run.objects_left for run in runs) == 0
    assert await objects_left(store, old_names + open_names) == []
    assert await objects_left(store, fresh_names) == fresh_names
    async with database.session() as db:
        statuses = {session["session_id"]: (await crud.recording_of(db=db, session_id=session["session_id"])).status
                    for session in (old, fresh, open_too_long)}
    assert statuses == {old["session_id"]: "expired", fresh["session_id"]: "closed",
                        open_too_long["session_id"]: "expired"}
    gone = await system.client.get(f"/api/v1/sessions/{old['session_id']}/recording",
                                    headers=bearer(old["customer_token"]))
    assert (gone.status_code, gone.json()["code"]) == (410, "recording_expired")
    erase_after = await system.client.post(f"/api/v1/sessions/{old['session_id']}/recording/erase",
                                             headers=bearer(old["customer_token"]))
    assert erase_after.status_code == 410

    again = await sweep_once(database=database, store=store, retention_days=RETENTION_DAYS, replica="gw1")
    assert (again.expired, again.objects_deleted) == (0, 0)
    async with database.session() as db:
        trail = list((await db.exec(select(AuditEntry).order_by(AuditEntry.id))).all())
    run_entries = [entry for entry in trail if entry.action == "recording.retention_run"]
    assert len(run_entries) >= 3 and {entry.actor for entry in run_entries} == {"system"}
    assert sorted(entry.detail["expired"] for entry in run_entries[-3:]) in ([0, 0, 2], [0, 1, 1])
    expired = [entry.session_id for entry in trail if entry.action == "recording.expired"]
    assert sorted(expired) == sorted([old["session_id"], open_too_long["session_id"]])


async def test_the_sweep_finishes_deleting_what_an_interrupted_erasure_left(system):
    maria = await system.staff_headers("maria", "consultant")
    created = await help_request(system, claimed_by=maria)
    store, database = system.app.state.recordings.store, system.runtime.database
    names = await write_recording(database=database, store=store, session_id=created["session_id"],
                                  parts=two_parts(time.time() - 30), closed_at=time.time() - 20)
    async with database.transaction() as db:  # the row erased, but nothing deleted yet (NATS away, a crash)
        row = await crud.recording_of(db=db, session_id=created["session_id"])
        row.status, row.erased_at, row.erased_by = "erased", utcnow(), "customer"
        db.add(row)
    run = await sweep_once(database=database, store=store, retention_days=RETENTION_DAYS, replica="gw1")
    assert (run.expired, run.leftovers, run.objects_deleted) == (0, 1, len(names))
    assert await objects_left(store, names) == []
