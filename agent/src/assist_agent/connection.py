"""The agent's connection: outbound WebSocket, heartbeats, reconnect within the grace period, ending.

The gateway sends `attached` (scopes, consultant, resume_token), `peer_joined` and `peer_left` as text frames;
binary frames are protocol v1 (channels.py). Text frames are the gateway's alone (CONTRACT §3): the gateway never
forwards one from the consultant. The agent does not count on that alone: it takes its session id, resume token and
scopes from its first `attached` and keeps them for its whole life, so no later message can move it to another
session; a `scopes` message (the customer took one back) can only narrow them, or give back what the customer
approved here (below). After a network drop the agent reconnects with its resume token, with backoff, for up to
`grace_seconds`; the gateway keeps the session for as long (AGENT_GRACE_SECONDS) and ends it with
`end_reason: "agent_lost"` past it.

Step-up consent (issue #16): a `scope_request` with `status: "pending"` is shown to the customer (who asks, for
what, why) and answered with Y or N here (a `scope_decision` text frame) or on the customer's page. Only an
`approved` notice for the very request the agent showed as pending widens it, and only by that request's scopes;
those join `approved_step_up`, the one set a later `scopes` message may add from. A scope taken back leaves that set
too: it comes back only through a new request the customer approves.

An observer, disclosed (issue #16): `{"type": "observers", "observers": ["sam"]}` is the full list of supervisors
watching the session (view only), sent whenever it changes and again after a (re)attach when it is not empty. The
agent tells the customer, in bold, who now watches and, plainly, who stopped, and keeps the list on the status line.
An observer gets no scope here: the gate (`scopes`, `channels.scopes`) never looks at this list.

Chat (issue #17): `{"type": "chat", "message": {"session_id", "seq", "role", "author", "text", "posted_at"}}` is
every message posted in the session, by the consultant or the customer (from the page or from here); the agent
shows each `seq` once ("[chat] elena: …", the customer's own as "you"), the author and the text made safe like any
outside text. The customer's T key opens a prompt (platforms/keys.py); Enter sends `{"type": "chat", "text": …}`,
and the message is shown only when the gateway sends it back.

Monitors (issue #17): the consultant picks which screen to see (channels.py, `screen.select`); with more than one,
the customer is told which one whenever that changes, and the status line names it ("may view screen 2/2").

Clipboard (issue #17): channel 4 goes to `ClipboardTransfers` (clipboard_transfers.py) past the channels' scope
gate; a request for the customer's clipboard waits for S or D here, and is cancelled when the consultant leaves or
the `clipboard` scope is taken back (a `scopes` message), after which nothing is sent on channel 4.

Files (issue #17): channel 5 goes to `FileTransfers` (filetransfer/transfers.py) past the same gate; each file waits
for the customer's A, F (a folder typed at a prompt) or R. The `files` scope taken back, the session's end and the
agent's exit delete every partial file; `attached` says the largest file allowed (`file_max_bytes`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import endings, scopes as scope_rules
from .channels import Channels
from .clipboard_transfers import ClipboardTransfers
from .filetransfer.transfers import DEFAULT_MAX_BYTES, FileTransfers
from .messages import Messages
from .platforms.keys import MESSAGE_LIMIT
from .status import StatusLine, scope_names
from .terminal_text import OUTSIDE_TEXT_LIMIT, one_line, printable

log = logging.getLogger(__name__)

PING_INTERVAL = 5.0  # heartbeats: a silent network is noticed within PING_INTERVAL + PING_TIMEOUT
PING_TIMEOUT = 10.0
FIRST_DELAY, MAX_DELAY = 0.5, 5.0  # reconnect backoff: doubles after each failed try, with jitter
# A connection counts as back only once it has stayed up this long after `attached`: a gateway that attaches and
# closes at once (or refuses the upgrade) is a failed try, so neither the grace clock nor the backoff starts over.
STABLE_SECONDS = 3.0
FINAL_CLOSE_CODES = endings.FINAL_CLOSE_CODES
REASON_LIMIT = 500  # a step-up request's reason, as the consent service accepts it
REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,36}")  # a uuid, as the gateway reads it back: the answer stays small
OBSERVERS_SHOWN = 20  # names kept and shown; more are counted ("+3")
OBSERVER_NAME_LIMIT = OUTSIDE_TEXT_LIMIT  # characters of one name
# After a re-attach the gateway sends the list again only when someone watches: without one by then, nobody does.
OBSERVERS_CONFIRM_SECONDS = 5.0
CHAT_ROLES = ("customer", "consultant")
CHAT_TEXT_LIMIT = MESSAGE_LIMIT  # characters of a chat message shown (the gateway accepts no longer)
CHAT_AUTHOR_LIMIT = OUTSIDE_TEXT_LIMIT
CHAT_SEQS_KEPT = 1000  # seqs remembered one by one; older ones are all taken as shown


@dataclass(frozen=True)
class ScopeRequest:
    """A consultant's step-up request, as the customer was shown it: waiting for Y or N (or the customer's page)."""

    request_id: str
    scopes: frozenset[str]
    requested_by: str


def agent_url(gateway: str, *, code: str | None = None, resume: str | None = None, session_id: str | None = None) -> str:
    """`https://host` or `wss://host` -> `wss://host/ws/v1/agent?code=...` (or `?session=...&resume=...`)."""
    parts = urlsplit(gateway if "://" in gateway else f"https://{gateway}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"the gateway URL must start with https:// (or http:// for a test system), not {gateway!r}")
    if resume:
        query = f"session={quote(session_id or '')}&resume={quote(resume)}"
    else:
        query = f"code={quote(code or '')}"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/v1/agent", query, ""))


class SessionEnded(Exception):
    def __init__(self, ending: endings.Ending) -> None:
        super().__init__(" ".join(ending.lines))
        self.ending = ending
        self.exit_code = ending.exit_code


class Agent:
    def __init__(self, *, gateway: str, code: str, grace_seconds: float = 30.0, status: StatusLine | None = None,
                 messages: Messages | None = None, files_dir: Path | None = None, home: Path | None = None) -> None:
        self.gateway = gateway
        self.code = code
        self.grace_seconds = grace_seconds
        self.messages = messages or (status.messages if status is not None else Messages())
        self.status = status or StatusLine(messages=self.messages)
        self.scopes: frozenset[str] = frozenset()
        self.consultant: str | None = None
        self.connected_since: float | None = None
        self.resume_token: str | None = None
        self.session_id: str | None = None
        self.channels: Channels | None = None
        self._ws = None
        self._attached_at: float | None = None  # when this connection's `attached` came
        self._closed_with: tuple[int, str] | None = None  # a final close seen while sending
        self._ending = asyncio.Event()
        self._state = "state.connecting"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._texts: set[asyncio.Task] = set()  # the customer's own text frames to the gateway, on their way
        self._hinted = False  # the C key was offered once, when a consultant first joined with `control`
        self.scope_request: ScopeRequest | None = None  # the step-up request shown as pending, until answered
        self.approved_step_up: frozenset[str] = frozenset()  # what approved requests added: all a `scopes` may add
        self._answered: str | None = None  # the request id answered with Y or N here, its notice not yet come
        self.observers: tuple[str, ...] = ()  # supervisors watching (view only), names made safe, as last told
        self.more_observers = 0  # watching beyond the OBSERVERS_SHOWN named
        self._observers_unconfirmed: asyncio.TimerHandle | None = None  # after a re-attach, until the list comes
        self._chat_seen: set[int] = set()  # the chat messages' seqs shown (above _chat_floor)
        self._chat_floor = -1  # every seq up to this one counts as shown
        self.chatting = False  # a chat message came: the status line offers T
        self._chat_sent = False  # the customer wrote from here (T): no hint needed
        self.draft: str | None = None  # the chat message being typed (the prompt is open), as the key thread said
        # Clipboard text both ways (#17): channel 4 under the `clipboard` scope, each transfer shown here; the S and
        # D keys answer a consultant's request for the clipboard (clipboard_transfers.py).
        self.clipboard = ClipboardTransfers(send=self.send, status=self.status, messages=self.messages,
                                            consultant=lambda: self.consultant, allowed=self._clipboard_allowed,
                                            on_change=self._show)
        self.monitor: tuple[int, int] | None = None  # the screen the consultant sees, and how many there are (#17)
        # Files both ways (#17): channel 5 under the `files` scope, each file the customer's decision (A, F, R).
        self.files = FileTransfers(send=self.send, say=self.status.say, changed=self._show, messages=self.messages,
                                   home=home or Path.home(), folder=files_dir,
                                   who=lambda: printable(self.consultant or "?"), connected=lambda: self._ws is not None)
        self.prompt = "chat.prompt"  # what the open prompt asks: a chat message, or a folder for a file
        # Whether the gateway records the session (#19): its `attached` says `"recording": true` (an older gateway
        # says nothing: not shown). Said once in the window, then kept on the status line.
        self.recorded = False
        self._recording_told = False

    # --- sending -------------------------------------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            return  # between connections: the frame is lost, the console redraws on the next hello
        try:
            await ws.send(data)
        except ConnectionClosed as closed:
            # The receive loop notices too; the code is kept here as well, so a final one is never lost.
            if closed.rcvd is not None and self._closed_with is None:
                self._closed_with = (closed.rcvd.code, closed.rcvd.reason)

    # --- running -------------------------------------------------------------------------------------------------
    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        ticker = asyncio.create_task(self._tick())
        self.files.sweep()  # what a previous agent, killed mid-transfer, left in the default folder
        connection = asyncio.create_task(self._connect_until_ended())
        ending = asyncio.create_task(self._ending.wait())
        try:
            await asyncio.wait({connection, ending}, return_when=asyncio.FIRST_COMPLETED)
            if ending.done():
                await self.tell_gateway()
                connection.cancel()
                await asyncio.gather(connection, return_exceptions=True)
                raise SessionEnded(endings.ended(self.messages, "customer"))
            return connection.result()
        except SessionEnded as ended:
            self._close_channels()
            ticker.cancel()
            self._cancel_observers_timer()
            self.clipboard.close()
            self.files.stop_all("ended", final=True)
            log.info("the session is over for this agent (exit %d): %s", ended.exit_code, ended)
            self.status.close()
            for line in ended.ending.lines:
                self.status.say(line)
            return ended.exit_code
        finally:
            for task in (ticker, connection, ending):
                task.cancel()
            if self.channels is not None:
                self.channels.release()

    async def _connect_until_ended(self) -> int:
        lost_at: float | None = None
        delay = FIRST_DELAY
        while True:
            url = agent_url(self.gateway, code=self.code, resume=self.resume_token, session_id=self.session_id)
            code, reason = None, ""
            self._attached_at, self._closed_with = None, None
            try:
                async with websockets.connect(url, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT,
                                              max_size=None, open_timeout=10) as ws:
                    self._ws = ws
                    await self._serve(ws)
                    code, reason = ws.close_code, ws.close_reason
            except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code < 500 and self.resume_token is None:
                    raise SessionEnded(endings.Ending(
                        (self.messages("refused.other", reason=str(error)), self.messages("access.closed")),
                        endings.EXIT_REFUSED)) from error
                reason = str(error) or type(error).__name__
                if isinstance(error, ConnectionClosed) and error.rcvd is not None:
                    # The gateway closed with a code (iterating a socket closed with anything but 1000 raises).
                    code, reason = error.rcvd.code, error.rcvd.reason
            finally:
                self._ws = None
            if code not in FINAL_CLOSE_CODES and self._closed_with is not None:
                code, reason = self._closed_with  # seen by a send while the receive loop saw only the drop
            if self._ending.is_set():
                raise SessionEnded(endings.ended(self.messages, "customer"))
            ending = endings.from_close(self.messages, code, reason)
            if ending is not None:
                raise SessionEnded(ending)
            if self.resume_token is None:  # never attached: nothing to resume
                raise SessionEnded(endings.unreachable(self.messages, reason or f"closed with {code}"))
            now = time.monotonic()
            if self._attached_at is not None and now - self._attached_at >= STABLE_SECONDS:
                lost_at, delay = now, FIRST_DELAY  # it was back for a while: a new drop, a new grace period
            lost_at = lost_at if lost_at is not None else now
            if now - lost_at > self.grace_seconds:
                self._close_channels()
                raise SessionEnded(endings.lost(self.messages, self.grace_seconds))
            self._set_state("state.reconnecting")
            log.warning("connection lost (%s, code %s); reconnecting in about %.1f s", reason, code, delay)
            await self._wait_or_end(delay * (0.5 + random.random()))
            delay = min(delay * 2, MAX_DELAY)

    async def _wait_or_end(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._ending.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        raise SessionEnded(endings.ended(self.messages, "customer"))

    async def _serve(self, ws) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                if self.channels is not None:
                    await self.channels.on_frame(message)
                continue
            try:
                control = json.loads(message)
            except ValueError:
                continue
            await self._on_gateway(control)

    async def _on_gateway(self, control: dict) -> None:
        kind = control.get("type")
        if kind == "attached":
            if self.session_id is None:
                self.session_id = control.get("session_id") or None
                self.resume_token = control.get("resume_token") or None
            elif control.get("session_id") != self.session_id or (
                    control.get("resume_token") not in (None, self.resume_token)):
                # A resumed attach names our session and brings no token: anything else is not our gateway's.
                log.warning("ignored an `attached` for another session or with another resume token")
                return
            self._attached_at = time.monotonic()
            if self.channels is None:
                self.scopes = scope_rules.normalise(control.get("scopes"))
                self.channels = Channels(send=self.send, scopes=self.scopes, mirror=self.status.mirror,
                                         on_monitor=self._monitor_shared)
                # The whole consent in words once: the status line has room for the short names only.
                self.status.say_wrapped(self.messages("allowed.now", scopes=scope_names(
                    self.scopes, self.messages, long=True) or self.messages("status.none")))
                if self._ending.is_set():
                    self.channels.close_local()
                self.channels.clipboard = self.clipboard
                self.channels.files = self.files
                limit = control.get("file_max_bytes")
                self.files.max_bytes = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 \
                    else DEFAULT_MAX_BYTES
            self.consultant = control.get("consultant") or self.consultant
            self._recording(control.get("recording") is True)
            self._expect_observers()
            self._set_state("state.waiting")
        elif kind == "peer_joined" and self.channels is not None:
            self.consultant = control.get("consultant") or self.consultant
            self.connected_since = self.connected_since or time.monotonic()
            self._set_state("state.connected")
            if scope_rules.may_act(self.scopes) and not self._hinted:
                self._hinted = True
                self.status.say(self.messages("hint.take_back_control"))
            await self.channels.peer_joined()
            if scope_rules.allows(self.scopes, scope_rules.FILES):
                await self.files.peer_joined()  # a file being sent is offered again: the console says from where
        elif kind == "peer_left" and self.channels is not None:
            self.channels.peer_left()
            self.clipboard.consultant_left()
            self._set_state("state.left")
        elif kind == "scopes" and self.channels is not None:
            # The customer took a scope back: from here on the agent refuses its frames too. Never wider than the
            # consent allowed at `attached` plus what the customer approved since (a step-up request shown here).
            if self._set_scopes(scope_rules.narrowed(self.scopes | self.approved_step_up, control.get("scopes")),
                                what="changed the scopes"):
                self.clipboard.scopes_changed()  # without `clipboard`: a request waiting here is cancelled
                if not scope_rules.allows(self.scopes, scope_rules.FILES):
                    self.files.stop_all("scope")  # every partial file deleted, nothing more sent on channel 5
                self._show()
        elif kind == "scope_request" and self.channels is not None:
            self._on_scope_request(control)
        elif kind == "observers":
            self._on_observers(control.get("observers"))
        elif kind == "chat":
            self._on_chat(control.get("message"))

    def _recording(self, recorded: bool) -> None:
        """What the latest `attached` says of recording: the window says it the first time, the status line while it
        holds (a re-attach to a gateway that does not record takes it off)."""
        self.recorded = recorded
        if recorded and not self._recording_told:
            self._recording_told = True
            self.status.say_wrapped(self.messages("recording.notice"))

    # --- chat ------------------------------------------------------------------------------------------------------
    def _on_chat(self, message) -> None:
        """A chat message posted in the session: shown once per seq, in the order they come, made safe; the hint
        to reply the first time."""
        if not isinstance(message, dict):
            log.warning("ignored a malformed chat message")
            return
        seq, role, text = message.get("seq"), message.get("role"), message.get("text")
        if (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or role not in CHAT_ROLES
                or not isinstance(text, str)):
            log.warning("ignored a malformed chat message")
            return
        if message.get("session_id") not in (None, self.session_id):
            log.warning("ignored chat message %d: it names another session", seq)
            return
        if seq <= self._chat_floor or seq in self._chat_seen:
            return  # shown already (the gateway sent it again, after a re-attach)
        self._chat_seen.add(seq)
        if len(self._chat_seen) > CHAT_SEQS_KEPT:
            oldest = sorted(self._chat_seen)[: len(self._chat_seen) - CHAT_SEQS_KEPT // 2]
            self._chat_floor = max(self._chat_floor, oldest[-1])
            self._chat_seen.difference_update(oldest)
        say = self.messages
        if role == "customer":
            who = say("chat.you")
        else:
            who = one_line(message.get("author") or "", limit=CHAT_AUTHOR_LIMIT) or printable(self.consultant or "?")
        shown = one_line(text, limit=CHAT_TEXT_LIMIT)
        log.info("chat message %d from %s (%s), %d characters", seq, who, role, len(shown))
        self.status.say_wrapped(say("chat.line", who=who, text=shown), limit=CHAT_TEXT_LIMIT + CHAT_AUTHOR_LIMIT + 20)
        if not self.chatting:
            self.chatting = True
            if not self._chat_sent:  # who has written from here knows the key
                self.status.say(say("chat.hint"))
            self._show()

    def show_draft(self, draft: str | None) -> None:
        """From the key thread, after each key while the customer types a chat message (T): the prompt and the text
        so far on the status row; None: the prompt closed (sent or cancelled), the status line is back."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._set_draft, draft)

    def _set_draft(self, draft: str | None, prompt: str = "chat.prompt") -> None:
        self.draft, self.prompt = draft, prompt
        self._show()

    # --- files (#17) ---------------------------------------------------------------------------------------------
    def file_key(self, key: str) -> bool:
        """A, F or R from the key thread: whether it opens the folder prompt (F while a file is offered); else the
        key is answered on the loop (nothing when no file waits)."""
        if self.files.wants_folder(key):
            return True
        self._on_loop(self.files.on_key(key))
        return False

    def file_folder(self, typed: str) -> None:
        """The folder typed at F's prompt (Enter), from the key thread."""
        self._on_loop(self.files.choose_folder(typed))

    def show_folder_draft(self, draft: str | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._set_draft, draft, "files.folder_prompt")

    def _on_loop(self, coroutine) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return

        def start() -> None:
            task = loop.create_task(coroutine)
            self._texts.add(task)
            task.add_done_callback(self._texts.discard)

        loop.call_soon_threadsafe(start)

    def send_chat(self, text: str) -> None:
        """The customer's message (Enter in the prompt), from the key thread: sent to the gateway, which posts it as
        the customer's and sends it back, and only then is it shown. Empty or too long: nothing is sent."""
        text = text.strip() if isinstance(text, str) else ""
        loop = self._loop
        if not 1 <= len(text) <= MESSAGE_LIMIT or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._send_chat, text)

    def _send_chat(self, text: str) -> None:
        self._chat_sent = True
        task = asyncio.get_running_loop().create_task(self._send_chat_frame(text))
        self._texts.add(task)
        task.add_done_callback(self._texts.discard)

    async def _send_chat_frame(self, text: str) -> None:
        if not await self._send_text({"type": "chat", "text": text}):
            log.warning("a chat message of %d characters could not be sent", len(text))
            self.status.say(self.messages("chat.unsent"))

    # --- which screen the consultant sees (#17) ---------------------------------------------------------------------
    def _monitor_shared(self, monitor, count: int) -> None:
        """The consultant sees `monitor` (of `count`) from now on: with more than one, the customer is told which
        whenever it changes, and the status line keeps it ("screen 2/2")."""
        shown = (monitor.index, count)
        if count > 1 and shown != self.monitor:
            log.info("the consultant now sees screen %d of %d (%dx%d)", monitor.index, count, monitor.width,
                     monitor.height)
            self.status.say(self.messages("monitor.shared", index=monitor.index, count=count, width=monitor.width,
                                          height=monitor.height))
        self.monitor = shown
        self._show()

    # --- observers (supervisors watching, view only) -------------------------------------------------------------
    def _on_observers(self, observers) -> None:
        """The gateway's full list of who watches: each newcomer is announced in bold, each who left plainly, and
        the status line shows the list (cleared when it is empty). A malformed list changes nothing."""
        if not isinstance(observers, list) or not all(isinstance(name, str) for name in observers):
            log.warning("ignored a malformed observers message")
            return
        self._cancel_observers_timer()
        names = list(dict.fromkeys(one_line(name, limit=OBSERVER_NAME_LIMIT) or "?" for name in observers))
        self._set_observers(tuple(names[:OBSERVERS_SHOWN]), max(0, len(names) - OBSERVERS_SHOWN))

    def _set_observers(self, observers: tuple[str, ...], more: int) -> None:
        before, self.observers, self.more_observers = self.observers, observers, more
        say, limit = self.messages, OBSERVER_NAME_LIMIT + 200
        for name in before:
            if name not in observers:
                log.info("supervisor %s stopped watching", name)
                self.status.say(say("observer.left", who=name), limit=limit)
        for name in observers:
            if name not in before:
                log.info("supervisor %s is watching (view only)", name)
                self.status.say(say("observer.joined", who=name), bold=True, limit=limit)
        self._show()

    def _expect_observers(self) -> None:
        """At an `attached` while someone was watching: the gateway sends the list again if anyone still does; if
        none comes within OBSERVERS_CONFIRM_SECONDS, they have all left (the status line keeps them until then)."""
        self._cancel_observers_timer()
        if self.observers or self.more_observers:
            self._observers_unconfirmed = asyncio.get_running_loop().call_later(
                OBSERVERS_CONFIRM_SECONDS, self._observers_not_confirmed)

    def _observers_not_confirmed(self) -> None:
        self._observers_unconfirmed = None
        log.info("no observers list after attaching: nobody watches any more")
        self._set_observers((), 0)

    def _cancel_observers_timer(self) -> None:
        if self._observers_unconfirmed is not None:
            self._observers_unconfirmed.cancel()
            self._observers_unconfirmed = None

    # --- step-up requests ----------------------------------------------------------------------------------------
    def _on_scope_request(self, control: dict) -> None:
        request_id, status = control.get("request_id"), control.get("status")
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            log.warning("ignored a step-up request with a malformed id")
            return
        if control.get("session_id") not in (None, self.session_id):
            log.warning("ignored step-up request %s: it names another session", request_id)
            return
        pending = self.scope_request
        if status == "pending":
            asked = scope_rules.normalise(control.get("scopes"))
            if not asked:
                log.warning("ignored step-up request %s: it asks for no scope this agent knows", request_id)
                return
            who = printable(control.get("requested_by") or self.consultant or "?")
            reason = one_line(control.get("reason") or "", limit=REASON_LIMIT)
            self.scope_request, self._answered = ScopeRequest(request_id, asked, who), None
            log.info("step-up request %s from %s for %s, reason: %s", request_id, who, ", ".join(sorted(asked)),
                     reason)
            say = self.messages
            self.status.say(say("request.asks", who=who, scopes=scope_names(asked, say, long=True)), bold=True)
            if reason:
                self.status.say(say("request.reason", reason=reason), bold=True, limit=REASON_LIMIT + 50)
            self.status.say(say("request.keys"), bold=True)
            self._show()
            return
        if status not in ("approved", "refused"):
            return
        if pending is None or pending.request_id != request_id:
            # Never shown to the customer here as pending (or already answered): it widens nothing.
            log.warning("ignored the %s notice of step-up request %s: not the request pending here", status,
                        request_id)
            return
        self.scope_request, self._answered = None, None
        if status == "refused":
            log.info("step-up request %s refused", request_id)
            self.status.say(self.messages("request.refused", who=pending.requested_by,
                                          scopes=scope_names(pending.scopes, self.messages, long=True)))
            self._show()
            return
        granted = pending.scopes & scope_rules.normalise(control.get("scopes"))
        had_control = scope_rules.may_act(self.scopes)
        self.approved_step_up |= granted
        self._set_scopes(self.scopes | granted, what=f"approved step-up request {request_id}")
        if granted:
            self.status.say(self.messages("request.approved", who=pending.requested_by,
                                          scopes=scope_names(granted, self.messages, long=True)))
        if scope_rules.may_act(self.scopes) and not had_control:
            self._hinted = True
            self.status.say(self.messages("hint.take_back_control"))
        self._show()

    def approve_request(self) -> None:
        """The customer's Y key, from the key thread: allow the pending step-up request (nothing when none is)."""
        self._answer_request(True)

    def refuse_request(self) -> None:
        """The customer's N key, from the key thread: refuse the pending step-up request (nothing when none is)."""
        self._answer_request(False)

    def _answer_request(self, approve: bool) -> None:
        pending = self.scope_request
        loop = self._loop
        if pending is None or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._send_decision, pending.request_id, approve)

    def _send_decision(self, request_id: str, approve: bool) -> None:
        """On the loop: tell the gateway the customer's answer. Nothing widens here: the gateway's `approved` notice
        (the consent service's decision) does."""
        pending = self.scope_request
        if pending is None or pending.request_id != request_id or self._answered == request_id:
            return  # answered meanwhile (here or on the page), or a second key for the same request
        self._answered = request_id
        self.status.say(self.messages("request.approving" if approve else "request.refusing",
                                      scopes=scope_names(pending.scopes, self.messages, long=True)))
        task = asyncio.get_running_loop().create_task(self._send_decision_frame(request_id, approve))
        self._texts.add(task)
        task.add_done_callback(self._texts.discard)

    async def _send_decision_frame(self, request_id: str, approve: bool) -> None:
        sent = await self._send_text({"type": "scope_decision", "request_id": request_id, "approve": approve})
        if not sent and self._answered == request_id:
            self._answered = None  # the customer may answer again
            self.status.say(self.messages("request.unsent"))

    # --- the customer's controls ---------------------------------------------------------------------------------
    def end_now(self) -> None:
        """The kill switch, from any thread or a signal handler: close every channel locally, at once."""
        self._close_channels()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ending.set)  # wakes the loop even from another thread

    def take_back_control(self) -> None:
        """The customer's C key, from the key thread: stop acting on the consultant's keystrokes and input here at
        once, then ask the gateway to take `control` back everywhere (it answers with `scopes`)."""
        if not self._set_scopes(self.scopes - {scope_rules.CONTROL}, what="took control back at the agent"):
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ask_gateway_to_take_back_control)

    def _set_scopes(self, scopes: frozenset[str], *, what: str) -> bool:
        """Allow only `scopes` from now on, here and in the channels' gate; whether that changed anything. Wider
        than today's only by `approved_step_up`, which loses whatever is taken away (a new request brings it back).
        Plain assignments: safe from the key thread as from the loop."""
        if scopes == self.scopes:
            return False
        self.scopes = scopes
        self.approved_step_up &= scopes
        if self.channels is not None:
            self.channels.scopes = scopes
        log.info("the customer %s; the consultant may now: %s", what, ", ".join(sorted(scopes)) or "nothing")
        return True

    def _ask_gateway_to_take_back_control(self) -> None:
        self.status.say(self.messages("control.taken_back"))
        self._show()
        ws = self._ws
        if ws is not None:
            task = asyncio.get_running_loop().create_task(self._send_text({"type": "withdraw_scope",
                                                                             "scope": scope_rules.CONTROL}))
            self._texts.add(task)
            task.add_done_callback(self._texts.discard)

    async def _send_text(self, message: dict) -> bool:
        """Whether the frame was sent; not connected: the gateway's grace period or the customer's page decides."""
        try:
            await asyncio.wait_for(self._ws.send(json.dumps(message, separators=(",", ":"))), timeout=2)
        except (ConnectionClosed, asyncio.TimeoutError, OSError, AttributeError):
            return False
        return True

    def _close_channels(self) -> None:
        if self.channels is not None:
            self.channels.close_local()
        log.info("every channel is closed locally")

    async def tell_gateway(self) -> None:
        """After `end_now`, on the event loop: say bye and ask the gateway to end the session (ended_by customer)."""
        ws = self._ws
        if ws is None:
            return  # unreachable: the grace period ends the session on the gateway's side
        try:
            from . import framing

            await asyncio.wait_for(ws.send(framing.control("bye")), timeout=2)
            await asyncio.wait_for(ws.send(json.dumps({"type": "end_session"})), timeout=2)
            await asyncio.wait_for(ws.wait_closed(), timeout=5)
        except (ConnectionClosed, asyncio.TimeoutError, OSError):
            pass
        finally:
            await ws.close()

    def _clipboard_allowed(self) -> bool:
        """Whether channel 4 may carry anything now: the consent includes `clipboard` and the channels are open."""
        channels = self.channels
        return (channels is not None and not channels.closed.is_set()
                and scope_rules.allows(self.scopes, scope_rules.CLIPBOARD))

    def _set_state(self, state: str) -> None:
        self._state = state
        self._show()

    def _show(self) -> None:
        pending = self.scope_request
        self.status.show(consultant=self.consultant, connected_since=self.connected_since, scopes=self.scopes,
                         state=self._state, request=pending.scopes if pending is not None else None,
                         observers=self.observers, more_observers=self.more_observers, chat=self.chatting,
                         draft=self.draft, monitor=self.monitor, clipboard=self.clipboard.waiting,
                         files=self.files.keys_hint(), prompt=self.prompt, recorded=self.recorded)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self._show()
