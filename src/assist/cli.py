"""The `assist` command: argument parsing only; the work lives in `dev`, `services` and `users`."""

from __future__ import annotations

import argparse
import gc
import sys

from . import services
from .devconfig import CliSettings, ConfigError

ENVIRONMENT_HELP = """environment:
  every setting is an environment variable (ASSIST_PORT, ASSIST_GATEWAYS, ASSIST_DATA_DIR, NATS_URL,
  DATABASE_URL, ...): docs/settings.md lists them all with their defaults
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assist", description="Consent-first remote assistance: run and administer the system.",
        epilog=ENVIRONMENT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "dev", help="start the whole system on this machine (what `make run` runs)",
        description="Start nats-server (unless NATS_URL is set), migrate, then every service as its own process.",
        epilog=ENVIRONMENT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    service = commands.add_parser("service", help="run one service (uvicorn)")
    service.add_argument("name", choices=services.KNOWN_SERVICES)
    service.add_argument("--port", type=int, help="default: ASSIST_PORT, else 8000")
    service.add_argument("--host", default="127.0.0.1")

    migrate = commands.add_parser("migrate", help="bring the services' databases to the newest schema")
    migrate.add_argument("names", nargs="*", metavar="SERVICE", help="default: every installed service")

    user = commands.add_parser("user", help="staff accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser(
        "add", help="add a staff account", description="Add a staff account that logs in at the gateway.",
    )
    add.add_argument("--role", required=True, help="consultant, supervisor, finance or admin")
    add.add_argument("--username", required=True)
    add.add_argument("--password", required=True)

    # The customer-side agent is its own package (agent/); its options are parsed there.
    commands.add_parser("agent", help="the customer-side agent (see `assist agent --help`)", add_help=False)

    finance = commands.add_parser("finance", help="finance integrations")
    finance_commands = finance.add_subparsers(dest="finance_command", required=True, metavar="ACTION")
    tail = finance_commands.add_parser(
        "tail", help="write billing events as JSON lines (a durable JetStream consumer)",
        description="Follow the BILLING stream and write each event, a CloudEvent, as one JSON line on stdout. "
        "Acknowledged after writing; deduplicate by the CloudEvent id (docs/finance.md). NATS_URL says where.",
    )
    tail.add_argument("--since", type=_rfc3339, help="RFC 3339 time to start from when the consumer is new")
    tail.add_argument("--durable", default="finance-tail", help="the consumer's name (default finance-tail)")
    tail.add_argument("--count", type=int, help="stop after this many events")

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_commands.add_parser(
        "verify", help="check every service's hash chain; exit 1 and name the first broken entry if one is",
        description="Reads each service's audit trail from its database (DATABASE_URL, ASSIST_DATA_DIR).",
    )
    return parser


def _rfc3339(value: str):
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {value!r} (e.g. 2026-11-25T00:00:00Z)") from exc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["agent"]:
        from assist_agent.cli import main as agent_main

        return agent_main(argv[1:], prog="assist agent")
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        from .dev import run_dev

        return run_dev()
    if args.command == "service":
        return _run_service(args.name, host=args.host, port=args.port or _port_from_environment())
    if args.command == "migrate":
        return _migrate(args.names)
    if args.command == "finance":
        return _finance_tail(args)
    if args.command == "audit":
        from .audit import verify_all

        return verify_all()
    from .users import add_user_command

    return add_user_command(role=args.role, username=args.username, password=args.password)


def _run_service(name: str, *, host: str, port: int) -> int:
    if not services.is_installed(name):
        print(f"assist service: {name} is not installed", file=sys.stderr)
        return 2
    import uvicorn

    from .httpserver import server_options

    # uvicorn turns SIGTERM into a graceful shutdown: stop accepting, finish requests, run the app's lifespan end.
    settings = services.settings_for(name)
    app = _app_with_its_objects_frozen(name)
    uvicorn.run(
        app, host=host, port=port, access_log=False,
        timeout_graceful_shutdown=10, log_level=settings.log_level.lower(), **server_options(settings),
        log_config=None,  # the app's own (assist_platform.telemetry), already in place: JSON lines on stderr
    )
    return 0


def _app_with_its_objects_frozen(name: str):
    """Build the service's app, then take everything alive out of the garbage collector's reach (`gc.freeze`).

    A service's modules, classes, schemas and routes are a few hundred thousand objects that live as long as the
    process. Left in the collector's generations, each full collection walks them all again: pauses of 50 to 160 ms
    on the event loop, measured under bench/revocation.py's load, that a terminate in flight waits out. Frozen, a
    collection walks only what requests and relays made since (docs/benchmarks.md).
    """
    app = services.create_app(name)
    gc.collect()
    gc.freeze()
    return app


def _finance_tail(args: argparse.Namespace) -> int:
    from .finance import tail

    nats_url = _cli_settings("assist finance tail").nats_url or "nats://127.0.0.1:4222"
    try:
        tail(nats_url=nats_url, since=args.since, out=sys.stdout, durable=args.durable, stop_after=args.count)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"assist finance tail: cannot reach NATS at {nats_url}: {exc}", file=sys.stderr)
        return 2
    return 0


def _port_from_environment() -> int:
    return _cli_settings("assist service").assist_port


def _cli_settings(command: str) -> CliSettings:
    try:
        return CliSettings.load()
    except ConfigError as error:
        raise SystemExit(f"{command}: {error}") from None


def _migrate(names: list[str]) -> int:
    available = services.available_services()
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"assist migrate: unknown service(s): {', '.join(unknown)}; installed: {', '.join(available)}",
              file=sys.stderr)
        return 2
    for name in names or available:
        services.migrate(name)
        print(f"migrated {name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
