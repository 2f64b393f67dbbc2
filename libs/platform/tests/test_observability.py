"""Logs carry trace ids and no credentials; the audit chain detects an edited, removed or reordered entry."""

from __future__ import annotations

import json
import logging

from assist_platform.audit import GENESIS, AuditEntry, entry_hash, verify_chain
from assist_platform.envelope import utcnow
from assist_platform.telemetry import JsonLogFormatter, redact
from opentelemetry.sdk.trace import TracerProvider


def test_redaction_removes_bearer_tokens_passwords_in_urls_forms_json_and_codes():
    lines = {
        "Authorization: Bearer abc.DEF-123_xyz": "abc.DEF-123_xyz",
        "NATS at nats://gateway:s3cr3tPass@127.0.0.1:4222 not reachable": "s3cr3tPass",
        "username=alice&password=a%20long%20secret": "a%20long%20secret",
        '{"customer_token": "tok-987654321"}': "tok-987654321",
        "GET /ws/v1/agent?code=123456789 403": "123456789",
        'WebSocket /ws/v1/agent?session=5b1c&resume=vxjfQk7Tt-resume "[accepted]"': "vxjfQk7Tt-resume",
        "access_token=eyJhbGciOi.payload.sig": "eyJhbGciOi.payload.sig",
    }
    for line, secret in lines.items():
        assert secret not in redact(line), line


def test_a_log_line_is_json_with_the_trace_and_span_of_the_current_span():
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "password=hunter22 seen", None, None)
    with tracer.start_as_current_span("work") as span:
        line = json.loads(JsonLogFormatter("assist-test").format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "hunter22" not in line["message"] and line["service"] == "assist-test"


def _chain(n: int) -> list[AuditEntry]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        row = AuditEntry(id=i, at=utcnow(), action="session.claimed", actor=f"c{i}", session_id="s",
                         client_address="127.0.0.1", detail={"n": i}, prev_hash=prev, hash="")
        row.hash = entry_hash(prev, row)
        rows.append(row)
        prev = row.hash
    return rows


def test_an_intact_chain_verifies_and_an_edited_entry_is_named():
    rows = _chain(5)
    assert verify_chain(rows) is None
    rows[2].actor = "mallory"
    assert verify_chain(rows).id == 3


def test_a_removed_or_reordered_entry_breaks_the_chain_where_it_happened():
    rows = _chain(5)
    assert verify_chain(rows[:2] + rows[3:]).id == 4
    assert verify_chain([rows[1], rows[0], *rows[2:]]).id == 2
