"""`assist agent` / `assist-agent`: serve a remote session on this computer, or check that it can."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .terminal_text import printable


class PrintableFormatter(logging.Formatter):
    """The log goes to the customer's terminal too, and its lines quote text from outside (close reasons, what
    the console sent): shown without the control characters a terminal would act on (terminal_text.printable)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message, limit=2000)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return "\n".join(printable(line, limit=2000) for line in super().formatException(ei).splitlines())


def build_parser(prog: str = "assist-agent") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Let a consultant help you on this computer, for as long as you allow it.",
        epilog="While connected, press Q or Ctrl-C in this window to end the session at once.",
    )
    parser.add_argument("--gateway", required=True, help="the service address, e.g. https://assist.example.com")
    parser.add_argument("--code", help="the 9-digit session code you received")
    parser.add_argument("--check", action="store_true",
                        help="only test that this computer can use the service (network, firewall, screen)")
    parser.add_argument("--grace", type=float, default=float(os.environ.get("AGENT_GRACE_SECONDS", "30")),
                        help="seconds to keep trying to reconnect after a network drop (default 30)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    return parser


def main(argv: list[str] | None = None, *, prog: str = "assist-agent") -> int:
    args = build_parser(prog).parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if args.check:
        from .check import run_check

        return run_check(args.gateway)
    if not args.code:
        print(f"{prog}: --code is required (or --check)", file=sys.stderr)
        return 2
    return _serve(args)


def _serve(args) -> int:
    from .connection import Agent
    from .platforms.keys import KeyWatcher

    agent = Agent(gateway=args.gateway, code=args.code.strip().replace(" ", ""), grace_seconds=args.grace)

    def kill_switch(*_ignored) -> None:
        # Runs in the signal handler or the key thread, not on the event loop: a busy loop cannot delay it.
        agent.end_now()

    signal.signal(signal.SIGINT, kill_switch)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, kill_switch)
    keys = KeyWatcher(kill_switch)
    keys.start()
    try:
        return asyncio.run(agent.run())
    finally:
        keys.restore()


if __name__ == "__main__":
    raise SystemExit(main())
