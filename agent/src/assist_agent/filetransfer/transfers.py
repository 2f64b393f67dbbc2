"""The agent's side of file transfers (issue #17): every file is the customer's decision.

To the customer: a `file.offer` is shown ("elena sends you setup.exe (12.3 MB). A: save to ~/Downloads, F: choose a
folder, R: refuse"); A or a folder typed at F's prompt accepts it (`file.accept {offset: 0}`), R refuses it
(`file.refuse`). The chunks are written to a hidden temporary (incoming.py), progress goes back at most
PROGRESS_PER_SECOND times a second, and the file takes its name only when its size and SHA-256 are the offer's
(`file.done {sha256, size}`, else `file.failed`). From the customer: a `file.request {path}` is shown with the path
resolved ("elena asks for your file ~/report.pdf (1.2 MB). A: send it, R: refuse"); A offers it to the console and
sends it after its `file.accept`.

Nothing partial stays: a `file.cancel`, the `files` scope taken back, the session's end or the agent's exit delete
every temporary (`stop_all`). Resuming after a short drop: the sender offers again with the same id, and the answer
is `file.accept` with the bytes already here; a chunk past them (lost frames) is answered the same way, once.
A and R, not Y and N (nor the clipboard's S and D), answer for a file: a step-up request may wait at the same
time, and each key answers one question only.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..messages import Messages
from ..terminal_text import one_line
from . import names, wire
from .incoming import Incoming, TransferError, sweep_parts
from .questions import PATH_SHOWN, QUESTIONS_MAX, Question
from .sending import SendingFiles

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 2 * 1024 ** 3  # as the gateway's FILE_TRANSFER_MAX_BYTES, when its `attached` says nothing
PROGRESS_PER_SECOND = 4
OPEN_MAX = 4  # files received at once
SAVE, FOLDER, REFUSE = "save", "folder", "refuse"
KEYS = {"a": SAVE, "f": FOLDER, "r": REFUSE}  # S and D are the clipboard's, Y and N the step-up's


class FileTransfers(SendingFiles):
    def __init__(self, *, send: Callable[[bytes], Awaitable[None]], say: Callable[..., None],
                 changed: Callable[[], None], messages: Messages, home: Path, folder: Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, who: Callable[[], str] = lambda: "?",
                 connected: Callable[[], bool] = lambda: True) -> None:
        self._send = send
        self._say = say
        self._changed = changed  # the status line shows the keys while a question waits
        self.messages = messages
        self.home = home
        self.folder = folder or names.default_folder(home)
        self.max_bytes = max_bytes
        self._who = who
        self._connected = connected
        self.questions: deque[Question] = deque()
        self.incoming: dict[str, Incoming] = {}
        self.outgoing = {}  # transfer id -> Sending (sending.py)
        self._progress_at: dict[str, float] = {}
        self._told_percent: dict[str, int] = {}
        self._resynced: dict[str, int] = {}  # the offset each transfer was last told to go on from after a gap
        self.closed = False

    # --- housekeeping --------------------------------------------------------------------------------------------
    def sweep(self) -> None:
        """At the start: a previous agent's temporaries in the default folder are removed."""
        for name in sweep_parts(self.folder):
            log.info("removed a temporary a previous agent left: %s", name)

    @property
    def question(self) -> Question | None:
        return self.questions[0] if self.questions else None

    def keys_hint(self) -> str | None:
        """What the status line offers while a file waits for the customer."""
        question = self.question
        if question is None:
            return None
        return self.messages("files.status.offer" if question.kind == "receive" else "files.status.request")

    # --- from the console ----------------------------------------------------------------------------------------
    async def on_payload(self, payload: bytes) -> None:
        if self.closed:
            return
        try:
            item = wire.decode(payload)
        except wire.WireError as error:
            log.warning("dropped a files payload from the console: %s", error)
            return
        try:
            if isinstance(item, wire.Chunk):
                await self._on_chunk(item)
            else:
                await self._on_message(item)
        except wire.WireError as error:
            log.warning("dropped a %s from the console: %s", item.get("type") if isinstance(item, dict) else "chunk",
                        error)

    async def _on_message(self, message: dict) -> None:
        kind = message["type"]
        if kind == "file.offer":
            await self._on_offer(wire.parse_offer(message))
            return
        transfer_id = wire.transfer_id(message.get("id"))
        if kind == "file.request":
            await self._on_request(transfer_id, message.get("path"))
        elif kind == "file.cancel":
            self._cancelled_by_consultant(transfer_id)
        elif kind == "file.accept":
            self._on_accept(transfer_id, message.get("offset"))
        elif kind in ("file.done", "file.failed", "file.refuse"):
            self._sending_ended(transfer_id, kind, message)
        # file.progress from the console: the agent shows its own counts

    async def _on_offer(self, offer: wire.Offer) -> None:
        receiving = self.incoming.get(offer.transfer_id)
        if receiving is not None:
            if (receiving.offer.size, receiving.offer.sha256) == (offer.size, offer.sha256):
                # The same file offered again after a drop: go on from what is here (asked already).
                log.info("file %s offered again: going on from byte %d", offer.transfer_id, receiving.received)
                self._resynced.pop(offer.transfer_id, None)
                await self._send(wire.message_frame("file.accept", id=offer.transfer_id, offset=receiving.received))
            return
        if any(question.transfer_id == offer.transfer_id for question in self.questions):
            return  # still waiting for the customer
        name = names.safe_name(offer.name)
        shown = one_line(offer.name, limit=80)
        if offer.size > self.max_bytes:
            log.warning("refused file %s (%d bytes): over the limit of %d", offer.transfer_id, offer.size,
                        self.max_bytes)
            self._say(self.messages("files.too_large", who=self._who(), name=shown, size=names.human_size(offer.size),
                                    limit=names.human_size(self.max_bytes)))
            await self._refuse(offer.transfer_id, "too_large")
            return
        if name is None:
            log.warning("refused file %s: no safe name in %r", offer.transfer_id, offer.name)
            self._say(self.messages("files.bad_name", name=shown))
            await self._refuse(offer.transfer_id, "bad_name")
            return
        if len(self.questions) >= QUESTIONS_MAX:
            await self._refuse(offer.transfer_id, "busy")
            return
        log.info("file %s offered: %s, %d bytes, sha256 %s", offer.transfer_id, name, offer.size, offer.sha256)
        self._ask(Question("receive", offer.transfer_id, name, offer.size, offer=offer))

    def _ask(self, question: Question) -> None:
        self.questions.append(question)
        if len(self.questions) == 1:
            self._show_question()
        self._changed()

    def _show_question(self) -> None:
        question = self.question
        if question is None:
            return
        say, size = self.messages, names.human_size(question.size)
        if question.kind == "receive":
            self._say(say("files.offer", who=self._who(), name=question.name, size=size), bold=True)
            self._say(say("files.offer.keys", folder=names.shown_folder(self.folder, self.home)), bold=True)
        else:
            self._say(say("files.request", who=self._who(), path=question.name, size=size), bold=True)
            self._say(say("files.request.keys"), bold=True)

    # --- the customer's keys -------------------------------------------------------------------------------------
    def wants_folder(self, key: str) -> bool:
        """From the key thread: whether `key` opens the folder prompt (F while a file is offered)."""
        question = self.question
        return KEYS.get(key.lower()) == FOLDER and question is not None and question.kind == "receive"

    async def on_key(self, key: str) -> None:
        """A, or R (F opens the prompt: `choose_folder` follows)."""
        choice, question = KEYS.get(key.lower()), self.question
        if question is None or choice is None or choice == FOLDER:
            return
        if choice == REFUSE:
            self._next_question()
            if question.kind == "receive":
                self._say(self.messages("files.refused", name=question.name))
            else:
                self._say(self.messages("files.request_refused", path=question.name))
            log.info("the customer refused file %s", question.transfer_id)
            await self._refuse(question.transfer_id, "refused")
        elif question.kind == "receive":
            await self._receive(question, self.folder)
        else:
            await self._send_file(question)

    async def choose_folder(self, typed: str) -> None:
        question = self.question
        if question is None or question.kind != "receive":
            return
        folder = names.chosen_folder(typed, self.home)
        if folder is None:
            self._say(self.messages("files.folder_bad", folder=one_line(typed, limit=PATH_SHOWN)))
            return
        await self._receive(question, folder)

    def _next_question(self) -> None:
        if self.questions:
            self.questions.popleft()
        self._show_question()
        self._changed()

    async def _refuse(self, transfer_id: str, reason: str) -> None:
        await self._send(wire.message_frame("file.refuse", id=transfer_id, reason=reason))

    # --- receiving -----------------------------------------------------------------------------------------------
    async def _receive(self, question: Question, folder: Path) -> None:
        self._next_question()
        if len(self.incoming) >= OPEN_MAX:
            await self._refuse(question.transfer_id, "busy")
            return
        try:
            incoming = Incoming(question.offer, folder, question.name)
        except (OSError, TransferError) as error:
            log.warning("cannot receive file %s into %s: %s", question.transfer_id, folder, error)
            self._say(self.messages("files.failed", name=question.name, reason=str(error)))
            await self._send(wire.message_frame("file.failed", id=question.transfer_id, reason="cannot_write"))
            return
        self.incoming[question.transfer_id] = incoming
        self._say(self.messages("files.saving", name=question.name, folder=names.shown_folder(incoming.folder,
                                                                                             self.home)))
        log.info("receiving file %s into %s", question.transfer_id, incoming.part)
        await self._send(wire.message_frame("file.accept", id=question.transfer_id, offset=0))
        if incoming.complete:  # an empty file: nothing more comes
            await self._finish(question.transfer_id, incoming)

    async def _on_chunk(self, chunk: wire.Chunk) -> None:
        incoming = self.incoming.get(chunk.transfer_id)
        if incoming is None:
            log.debug("dropped a chunk of unknown file %s", chunk.transfer_id)
            return
        try:
            result = incoming.write(chunk)
        except (TransferError, OSError) as error:
            await self._fail(chunk.transfer_id, incoming, str(error))
            return
        if result == "gap":
            if self._resynced.get(chunk.transfer_id) != incoming.received:
                self._resynced[chunk.transfer_id] = incoming.received  # told once per place, not per lost chunk
                await self._send(wire.message_frame("file.accept", id=chunk.transfer_id, offset=incoming.received))
            return
        if incoming.complete:
            await self._finish(chunk.transfer_id, incoming)
        elif result == "written":
            await self._progress(chunk.transfer_id, incoming)

    async def _progress(self, transfer_id: str, incoming: Incoming) -> None:
        now = time.monotonic()
        if now - self._progress_at.get(transfer_id, 0.0) < 1 / PROGRESS_PER_SECOND:
            return
        self._progress_at[transfer_id] = now
        await self._send(wire.message_frame("file.progress", id=transfer_id, received=incoming.received))
        percent = incoming.received * 100 // max(1, incoming.offer.size) // 25 * 25
        if percent and percent > self._told_percent.get(transfer_id, 0):
            self._told_percent[transfer_id] = percent
            self._say(self.messages("files.progress", name=incoming.name, percent=percent,
                                    done=names.human_size(incoming.received),
                                    size=names.human_size(incoming.offer.size)))

    async def _finish(self, transfer_id: str, incoming: Incoming) -> None:
        self._forget(transfer_id)
        try:
            final = incoming.finish()
        except (TransferError, OSError) as error:
            log.warning("file %s failed at the end: %s", transfer_id, error)
            self._say(self.messages("files.failed", name=incoming.name, reason=str(error)))
            await self._send(wire.message_frame("file.failed", id=transfer_id, reason=str(error)[:wire.REASON_LIMIT]))
            return
        log.info("file %s saved as %s (%d bytes, sha256 %s)", transfer_id, final, incoming.received, incoming.sha256)
        self._say(self.messages("files.saved", path=str(final), size=names.human_size(incoming.received),
                                sha=incoming.sha256[:16]))
        await self._send(wire.message_frame("file.done", id=transfer_id, sha256=incoming.sha256,
                                            size=incoming.received))

    async def _fail(self, transfer_id: str, incoming: Incoming, reason: str) -> None:
        self._forget(transfer_id)
        incoming.discard()
        log.warning("file %s failed: %s", transfer_id, reason)
        self._say(self.messages("files.failed", name=incoming.name, reason=reason))
        await self._send(wire.message_frame("file.failed", id=transfer_id, reason=reason[:wire.REASON_LIMIT]))

    def _forget(self, transfer_id: str) -> None:
        self.incoming.pop(transfer_id, None)
        for memory in (self._progress_at, self._told_percent, self._resynced):
            memory.pop(transfer_id, None)

    def _cancelled_by_consultant(self, transfer_id: str) -> None:
        for question in list(self.questions):
            if question.transfer_id == transfer_id:
                head = question is self.question
                self.questions.remove(question)
                self._say(self.messages("files.cancelled", name=question.name))
                if head:
                    self._show_question()
                self._changed()
        incoming = self.incoming.get(transfer_id)
        if incoming is not None:
            self._forget(transfer_id)
            incoming.discard()
            log.info("the consultant cancelled file %s: its temporary is deleted", transfer_id)
            self._say(self.messages("files.cancelled", name=incoming.name))
        sending = self.outgoing.pop(transfer_id, None)
        if sending is not None:
            self._stop_sending(sending)
            self._say(self.messages("files.cancelled", name=sending.outgoing.name))

    # --- stopping ------------------------------------------------------------------------------------------------
    def stop_all(self, reason: str, *, final: bool = False) -> None:
        """The `files` scope taken back (`reason` "scope"), the session over or the agent exiting ("ended", `final`):
        every temporary is deleted, nothing waits for the customer, nothing more is sent. Synchronous and touching no
        socket: safe from the kill switch. After a final stop nothing more is taken."""
        if final:
            self.closed = True
        for question in list(self.questions):
            log.info("file %s no longer waits for the customer: %s", question.transfer_id, reason)
        had_questions = bool(self.questions)
        self.questions.clear()
        for transfer_id, incoming in list(self.incoming.items()):
            self._forget(transfer_id)
            incoming.discard()  # again after `abort_now` costs nothing
            log.info("file %s stopped (%s): its temporary is deleted", transfer_id, reason)
            self._say(self.messages("files.stopped", name=incoming.name, reason=self.messages(f"files.stop.{reason}")))
        for transfer_id, sending in list(self.outgoing.items()):
            self.outgoing.pop(transfer_id, None)
            self._stop_sending(sending)
            self._say(self.messages("files.stopped", name=sending.outgoing.name,
                                    reason=self.messages(f"files.stop.{reason}")))
        if had_questions:
            self._changed()

    def abort_now(self) -> None:
        """The kill switch, from any thread or a signal handler: nothing more is taken or sent, and every temporary
        is deleted, silently (the loop says what stopped in `stop_all` afterwards, if it still runs)."""
        self.closed = True
        for incoming in list(self.incoming.values()):
            incoming.discard()
