"""The session report (issue #19): a Markdown file for the customer (and the session's readers) saying who took part,
when, under which consent and scopes, what was done (chat, files, requests for more) and what it costs. Pure: the
route gathers the pieces (the session view, the consent receipt, the recording's events or, without a recording,
the gateway's file transfers and the chat, billing's session report) and the words of the reader's language.

Whatever a person typed (names, file names, reasons) is escaped: it reads as text in any Markdown viewer, never as
markup, a link or a table cell's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# What can turn text into markup mid-line (emphasis, code, links, HTML, a table cell's end); a value never starts a
# line (each follows its label), so list and heading marks need no escape.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md(value: Any) -> str:
    """Text as Markdown that shows it as it is: special characters escaped, one line."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())  # line breaks and tabs: one line, so nothing starts a heading or a list
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def when(moment: Any) -> str:
    """A time as the report writes it: `2026-12-01 12:00:05 UTC` (any RFC 3339 text, datetime or unix seconds)."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, (int, float)):
        moment = datetime.fromtimestamp(moment, UTC)
    elif isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return md(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(seconds: float | int | None) -> str:
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass
class Actions:
    """What was done in the session, from the recording's events or the records kept without it."""

    chat_customer: int = 0
    chat_consultant: int = 0
    files: list[dict] = field(default_factory=list)  # direction, name, size, sha256, status
    scope_requests: list[dict] | None = None  # at, scopes, reason, status; None: not known without the recording
    observers: list[str] = field(default_factory=list)


def actions_from_events(events: list[dict]) -> Actions:
    """The recording's events folded: a transfer's and a request's last state count, each observer once."""
    actions = Actions(scope_requests=[])
    files: dict[str, dict] = {}
    requests: dict[str, dict] = {}
    observers: list[str] = []
    for event in events:
        kind = event.get("type")
        if kind == "chat":
            if event.get("role") == "consultant":
                actions.chat_consultant += 1
            else:
                actions.chat_customer += 1
        elif kind == "file" and event.get("transfer_id"):
            files[str(event["transfer_id"])] = event
        elif kind == "scope_request" and event.get("request_id"):
            first = requests.get(str(event["request_id"]), event)
            requests[str(event["request_id"])] = {**event, "at": first.get("at")}
        elif kind == "observers":
            observers.extend(name for name in event.get("observers") or [] if name not in observers)
    actions.files = [_file(event) for event in files.values()]
    actions.scope_requests = [{"at": event.get("at"), "scopes": event.get("scopes") or [],
                               "reason": event.get("reason"), "status": event.get("status")}
                              for event in requests.values()]
    actions.observers = observers
    return actions


def actions_from_records(*, file_transfers: list[dict], chat_messages: list[dict],
                         observers: list[str]) -> Actions:
    """Without a recording: the gateway's file transfers and the session's chat (their owners keep them)."""
    return Actions(
        chat_customer=sum(1 for message in chat_messages if message.get("role") != "consultant"),
        chat_consultant=sum(1 for message in chat_messages if message.get("role") == "consultant"),
        files=[_file(row) for row in file_transfers], scope_requests=None, observers=list(observers))


def _file(item: dict) -> dict:
    return {key: item.get(key) for key in ("direction", "name", "size", "sha256", "status")}


@dataclass
class ReportInput:
    session: dict  # the session view (JSON)
    service_name: str
    receipt: dict | None  # the consent receipt, or None when consent did not answer
    bill: dict | None  # billing's session report, or None
    billed: str  # "billed" | "pending" | "not_billed"
    recording: dict | None  # {status, started_at, ended_at, delete_after, erased_at} or None: not recorded
    actions: Actions
    made_at: datetime


def _fact(words: dict, key: str, value: str) -> str:
    return f"- **{words[key]}:** {value}"


def render(report: ReportInput, words: dict[str, str]) -> str:
    """The report in the words given (the reader's language)."""
    session, receipt = report.session, report.receipt or {}
    customer = session.get("customer") or {}
    who = ", ".join(md(customer.get(key)) for key in ("name", "email", "company", "phone") if customer.get(key))
    lines = [f"# {words['rr_title']} {md(session.get('session_id'))}", "",
             words["rr_generated"].format(time=when(report.made_at)), "",
             f"## {words['rr_who']}", "",
             _fact(words, "rr_customer", who or "—"),
             _fact(words, "rr_consultant", md(session.get("consultant")) or "—"),
             _fact(words, "rr_observers", ", ".join(md(name) for name in report.actions.observers) or "—"),
             _fact(words, "rr_service", md(report.service_name)), "",
             f"## {words['rr_when']}", ""]
    duration = (report.bill or {}).get("duration_seconds")
    lines += [_fact(words, "rr_requested", when(session.get("requested_at"))),
              _fact(words, "rr_started", when(session.get("started_at"))),
              _fact(words, "rr_ended", when(session.get("ended_at"))),
              _fact(words, "rr_ended_by", md(words.get(f"party_{session.get('ended_by')}", session.get("ended_by")))
                    if session.get("ended_by") else "—"),
              _fact(words, "rr_end_reason", md(words.get(f"cs_reason_{session.get('end_reason')}",
                                                         session.get("end_reason"))) if session.get("end_reason")
                    else "—"),
              _fact(words, "rr_duration", clock(duration)), ""]
    lines += _consent(receipt, session, words)
    lines += _actions(report.actions, words)
    lines += _recording(report.recording, words)
    lines += _amount(report, words)
    return "\n".join(lines).rstrip() + "\n"


def _scope_names(scopes, words: dict) -> str:
    return ", ".join(md(words.get(f"sv_scope_{scope}", scope)) for scope in scopes or []) or "—"


def _consent(receipt: dict, session: dict, words: dict) -> list[str]:
    terms = receipt.get("terms") or {}
    lines = [f"## {words['rr_consent']}", "",
             _fact(words, "rr_terms", f"{md(terms.get('version'))} (SHA-256 `{md(terms.get('sha256'))}`)"
                   if terms else "—"),
             _fact(words, "rr_receipt", md(receipt.get("receipt_id")) or "—"),
             _fact(words, "rr_scopes_granted", _scope_names(receipt.get("scopes") or session.get("scopes"), words)),
             _fact(words, "rr_scopes_in_force", _scope_names(receipt.get("scopes_in_force") or session.get("scopes"),
                                                             words))]
    changes = receipt.get("scope_changes") or []
    lines.append(_fact(words, "rr_scope_changes", "" if changes else words["rr_no_changes"]))
    for change in changes:
        key = "rr_scope_granted" if change.get("change") == "granted" else "rr_scope_withdrawn"
        lines.append("  - " + words[key].format(time=when(change.get("at")),
                                                scope=md(words.get(f"sv_scope_{change.get('scope')}",
                                                                   change.get("scope")))))
    return [*lines, ""]


def _actions(actions: Actions, words: dict) -> list[str]:
    total = actions.chat_customer + actions.chat_consultant
    lines = [f"## {words['rr_actions']}", "",
             "- " + words["rr_chat_count"].format(count=total, customer=actions.chat_customer,
                                                  consultant=actions.chat_consultant), "",
             f"### {words['rr_files']}", ""]
    if actions.files:
        lines += [words["rr_file_row"], "| --- | --- | ---: | --- | --- |"]
        for item in actions.files:
            direction = words["rr_to_customer" if item.get("direction") == "to_customer" else "rr_from_customer"]
            status = words.get(f"rv_file_{item.get('status')}", item.get("status"))
            lines.append(f"| {direction} | {md(item.get('name'))} | {md(item.get('size'))} | "
                         f"`{md(item.get('sha256'))}` | {md(status)} |")
    else:
        lines.append(words["rr_no_files"])
    lines += ["", f"### {words['rr_scope_requests']}", ""]
    if actions.scope_requests is None:
        lines.append("—")
    elif not actions.scope_requests:
        lines.append(words["rr_no_scope_requests"])
    for request in actions.scope_requests or []:
        status = words.get(f"rv_scope_request_{request.get('status')}", request.get("status") or "")
        lines.append(f"- {when(request.get('at'))}: {_scope_names(request.get('scopes'), words)} — "
                     f"{md(request.get('reason'))} ({md(status)})")
    return [*lines, ""]


def _recording(recording: dict | None, words: dict) -> list[str]:
    lines = [f"## {words['rr_recording']}", ""]
    if recording is None:
        return [*lines, words["rr_recording_none"], ""]
    status = recording.get("status")
    lines += [_fact(words, "rr_recording_status", md(words.get(f"rp_status_{status}", status))),
              _fact(words, "rp_started", when(recording.get("started_at"))),
              _fact(words, "rp_ended", when(recording.get("ended_at")))]
    if status in ("erased", "expired"):
        lines += ["", words["rr_recording_gone"].format(time=when(recording.get("erased_at")))]
    else:
        lines.append(_fact(words, "rp_delete_after", when(recording.get("delete_after"))))
    return [*lines, ""]


def _amount(report: ReportInput, words: dict) -> list[str]:
    lines = [f"## {words['rr_amount']}", ""]
    bill = report.bill or {}
    if report.billed == "not_billed":
        return [*lines, words["rr_not_billed"]]
    if report.billed == "pending" or bill.get("gross") is None:
        return [*lines, words["rr_bill_pending"]]
    currency = md(bill.get("currency"))
    lines += ["- " + words["rr_units"].format(units=md(bill.get("units")), unit_price=md(bill.get("unit_price")),
                                              currency=currency),
              _fact(words, "rr_net", f"{md(bill.get('net'))} {currency}"),
              _fact(words, "rr_vat", f"{md(bill.get('vat'))} {currency} ({md(bill.get('vat_rate'))})"),
              _fact(words, "rr_gross", f"{md(bill.get('gross'))} {currency}")]
    if bill.get("credited") not in (None, "0.00"):
        lines.append(_fact(words, "rr_credited", f"{md(bill.get('credited'))} {currency}"))
    lines.append(_fact(words, "rr_price_list", md(bill.get("price_list_version"))))
    return lines
