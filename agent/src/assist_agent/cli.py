"""`assist agent` / `assist-agent`: serve a remote session on this computer, or check that it can."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from .messages import LANGUAGES, Messages, pick_language
from .terminal_text import printable


def default_log_path() -> Path:
    """Per user, where each system keeps such logs: %LOCALAPPDATA%\\assist on Windows, ~/Library/Logs/assist on
    macOS, $XDG_STATE_HOME/assist (~/.local/state/assist) elsewhere."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Logs"
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "assist" / "agent.log"


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
        epilog="While connected, press Q or Ctrl-C in this window to end the session at once, C to take control "
               "back, Y or N to answer a consultant's request for more, S or D to send your clipboard's text to "
               "the consultant who asks for it or refuse, A, F or R to save a file the consultant sends (F: in "
               "a folder you type) or send one they ask for, or refuse it, T to write to the consultant (Enter sends, "
               "Esc cancels; Q, C, Y and N are letters of the message while you type it). Exit status: 0 the "
               "session ended, 1 refused (wrong code, too many tries), 2 bad arguments, 3 the service could not be "
               "reached (again). See docs/agent.md.",
    )
    parser.add_argument("--gateway", required=True, help="the service address, e.g. https://assist.example.com")
    parser.add_argument("--code", help="the 9-digit session code you received")
    parser.add_argument("--check", action="store_true",
                        help="only test that this computer can use the service (network, firewall, screen)")
    parser.add_argument("--grace", type=float, default=float(os.environ.get("AGENT_GRACE_SECONDS", "30")),
                        help="seconds to keep trying to reconnect after a network drop (default 30)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"))
    parser.add_argument("--lang", choices=LANGUAGES,
                        help="language of what the agent says: bg (default) or en (default when LANG is en*)")
    parser.add_argument("--verbose", action="store_true",
                        help="write the log to this window (stderr) instead of the log file")
    parser.add_argument("--log-file", type=Path, default=None,
                        help=f"where the log goes without --verbose (default {default_log_path()})")
    parser.add_argument("--files-dir", type=Path, default=None,
                        help="the folder a file the consultant sends is saved in when you press A (default "
                             "~/Downloads, or your home folder without one); F chooses another each time")
    return parser


def main(argv: list[str] | None = None, *, prog: str = "assist-agent") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.check:
        _log_to(logging.StreamHandler(sys.stderr), args.log_level)
        from .check import run_check

        return run_check(args.gateway)
    if not args.code:
        print(f"{prog}: --code is required (or --check)", file=sys.stderr)
        return 2
    if args.files_dir is not None and not args.files_dir.is_dir():
        print(f"{prog}: --files-dir {args.files_dir} is not a folder", file=sys.stderr)
        return 2
    return _serve(args)


def _log_to(handler: logging.Handler, level: str) -> None:
    handler.setFormatter(PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def _serve(args) -> int:
    from .connection import Agent
    from .platforms.keys import KeyWatcher
    from .status import StatusLine

    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a locale without UTF-8 shows "?" for a letter, never a traceback
    messages = Messages(pick_language(args.lang))
    status = StatusLine(messages=messages)
    if args.verbose:
        _log_to(logging.StreamHandler(sys.stderr), args.log_level)
    else:
        # Log lines in the customer's window would break the status line and the shared shell: they go to a file,
        # named once, for whoever helps the customer afterwards.
        log_path = args.log_file or default_log_path()
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            _log_to(logging.FileHandler(log_path, encoding="utf-8"), args.log_level)
            status.say(messages("log.where", path=str(log_path)))
        except OSError as error:
            print(f"{error}: logging to this window instead", file=sys.stderr)
            _log_to(logging.StreamHandler(sys.stderr), args.log_level)
    agent = Agent(gateway=args.gateway, code=args.code.strip().replace(" ", ""), grace_seconds=args.grace,
                  status=status, messages=messages, files_dir=args.files_dir)

    def kill_switch(*_ignored) -> None:
        # Runs in the signal handler or the key thread, not on the event loop: a busy loop cannot delay it.
        agent.end_now()

    signal.signal(signal.SIGINT, kill_switch)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, kill_switch)
    keys = KeyWatcher(kill_switch, on_control=agent.take_back_control, on_approve=agent.approve_request,
                      on_refuse=agent.refuse_request, on_chat=agent.send_chat, on_draft=agent.show_draft,
                      on_clipboard_send=agent.clipboard.send_text, on_clipboard_refuse=agent.clipboard.refuse,
                      on_file=agent.file_key, on_folder=agent.file_folder, on_folder_draft=agent.show_folder_draft)
    keys.start()
    try:
        return asyncio.run(agent.run())
    finally:
        keys.restore()


if __name__ == "__main__":
    raise SystemExit(main())
