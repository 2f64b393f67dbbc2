"""Tracing and logging, wired once: W3C trace context travels in NATS message headers as it does in HTTP headers.

`configure_telemetry` is called by every service's app factory. It chooses span exporters from the environment:
- `OTEL_TRACES_EXPORTER` (comma separated: `otlp`, `console`, `none`); unset means `otlp` when
  `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, else nothing. The OTLP exporter
  (HTTP/protobuf) reads the standard `OTEL_EXPORTER_OTLP_*` variables itself.
- `ASSIST_SPANS_FILE`: also write every finished span as one JSON line to this file (`assist dev` sets it per
  service when `ASSIST_TRACE_SPANS=1`).
Logs are JSON lines with the current trace and span ids, and every line passes the redaction in `redact`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)

from .settings import PlatformSettings

_configured = False
REDACTED = "[redacted]"


def configure_telemetry(*, service_name: str, settings: PlatformSettings | None = None) -> None:
    """Install the SDK tracer provider and the JSON log handler, once per process."""
    global _configured
    if _configured:
        return
    settings = settings or PlatformSettings()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    for exporter in span_exporters(settings):
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    configure_logging(service_name=service_name, level=settings.log_level)
    _configured = True


def span_exporters(settings: PlatformSettings) -> list[SpanExporter]:
    chosen = settings.otel_traces_exporter
    if chosen is None:
        has_endpoint = settings.otel_exporter_otlp_endpoint or settings.otel_exporter_otlp_traces_endpoint
        chosen = "otlp" if has_endpoint else "none"
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in chosen.split(",")):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
    if settings.assist_spans_file:
        exporters.append(JsonLinesSpanExporter(settings.assist_spans_file))
    return exporters


class JsonLinesSpanExporter(SpanExporter):
    """Finished spans as JSON lines (one object per span) appended to a file: for local use and tests."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> dict:
    ctx = span.get_span_context()
    return {
        "service": span.resource.attributes.get("service.name"),
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {key: redact(str(value)) for key, value in (span.attributes or {}).items()},
        "links": [format(link.context.span_id, "016x") for link in span.links],
    }


# --- logs --------------------------------------------------------------------------------------------------------

# Credentials that may turn up in a message: bearer tokens, passwords in URLs, forms, query strings and JSON.
_PATTERNS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"(?i)((?:password|passwd|secret|token|access_token|customer_token|authorization|cookie)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\"'\s&,;}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&](?:code|token|access_token|resume)=)[^&\s\"']+"), r"\1" + REDACTED),
)
_SECRET_ENV = re.compile(r"(?i)(PASSWORD|SECRET|TOKEN|CREDENTIAL)")


def _secret_values_from_environment() -> list[str]:
    """Values of this process's secret-looking variables (NATS_PASSWORD, ...): never printed as they are."""
    return sorted(
        {value for key, value in os.environ.items() if _SECRET_ENV.search(key) and len(value) >= 6},
        key=len, reverse=True,
    )


_secret_values: list[str] = []


def redact(text: str) -> str:
    for value in _secret_values:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, trace and span ids, exception."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, service_name: str, level: str = "INFO") -> None:
    """JSON lines on stderr for the root logger; uvicorn's own loggers are routed through it too."""
    global _secret_values
    _secret_values = _secret_values_from_environment()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(service_name))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


# --- trace context in messages -----------------------------------------------------------------------------------


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span, for a message or outbox row."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: dict[str, str] | None) -> context.Context:
    return propagate.extract(headers or {})
