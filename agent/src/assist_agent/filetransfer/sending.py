"""The agent sending a file the consultant asked for (`file.request`), once the customer allowed it: the file is
hashed, offered (`file.offer` with the request's id) and sent from where the console says it is (`file.accept`), again
after a drop (`peer_joined`). A mixin of `FileTransfers` (transfers.py), whose state and helpers it uses."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..terminal_text import one_line
from . import names, wire
from .outgoing import Outgoing, readable_file
from .questions import PATH_SHOWN, QUESTIONS_MAX, Question

log = logging.getLogger(__name__)


@dataclass
class Sending:
    """A file on its way to the console, and the task streaming it."""

    outgoing: Outgoing
    task: asyncio.Task | None = None
    told: set[int] = field(default_factory=set)  # the quarters said to the customer


class SendingFiles:
    """The sending side of `FileTransfers`: its `outgoing`, `questions`, `home`, `max_bytes`, `_send`, `_say`..."""

    async def _on_request(self, transfer_id: str, path) -> None:
        if not isinstance(path, str) or not path.strip() or len(path) > 4096 or "\x00" in path:
            await self._refuse(transfer_id, "bad_path")
            return
        if transfer_id in self.outgoing or any(q.transfer_id == transfer_id for q in self.questions):
            return
        wanted = names.typed_path(path.strip(), self.home)
        real, why = readable_file(wanted, self.max_bytes)
        shown = one_line(str(real or wanted), limit=PATH_SHOWN)
        if real is None:
            log.warning("file request %s for %r refused: %s", transfer_id, path, why)
            self._say(self.messages("files.request.missing", who=self._who(), path=shown,
                                    why=self.messages(f"files.why.{why}")))
            await self._refuse(transfer_id, why)
            return
        if len(self.questions) >= QUESTIONS_MAX:
            await self._refuse(transfer_id, "busy")
            return
        log.info("file request %s for %s", transfer_id, real)
        self._ask(Question("send", transfer_id, shown, real.stat().st_size, path=real))

    async def _send_file(self, question: Question) -> None:
        self._next_question()
        self._say(self.messages("files.hashing", name=question.path.name))
        try:
            outgoing = await asyncio.to_thread(Outgoing.of, question.path, transfer_id=question.transfer_id)
        except OSError as error:
            await self._refuse(question.transfer_id, "not_readable")
            self._say(self.messages("files.failed", name=question.path.name, reason=str(error)))
            return
        if self.closed:
            return
        if outgoing.size > self.max_bytes:
            await self._refuse(question.transfer_id, "too_large")
            return
        self.outgoing[question.transfer_id] = Sending(outgoing)
        log.info("offering file %s: %s, %d bytes, sha256 %s", outgoing.transfer_id, outgoing.path, outgoing.size,
                 outgoing.sha256)
        await self._send(outgoing.offer_frame())

    def _on_accept(self, transfer_id: str, offset) -> None:
        sending = self.outgoing.get(transfer_id)
        if sending is None:
            return
        sending.outgoing.accept(offset)
        if sending.task is None or sending.task.done():
            sending.task = asyncio.get_running_loop().create_task(self._stream(sending))

    async def _stream(self, sending: Sending) -> None:
        outgoing = sending.outgoing
        while not self.closed and self._connected() and outgoing.transfer_id in self.outgoing:
            frame = outgoing.next_frame()  # 64 KiB from the disk: no thread needed
            if frame is None:
                return  # all sent: the receiver's file.done (or failed) follows
            await self._send(frame)
            percent = outgoing.position * 100 // max(1, outgoing.size) // 25 * 25
            if 0 < percent < 100 and percent not in sending.told:
                sending.told.add(percent)
                self._say(self.messages("files.sending", name=outgoing.name, percent=percent))
        # Disconnected: the rest follows the receiver's answer to our offer again (`peer_joined`).

    async def peer_joined(self) -> None:
        """The console is (back) there: each file still being sent is offered again, and the receiver says from
        where to go on."""
        for sending in list(self.outgoing.values()):
            await self._send(sending.outgoing.offer_frame())

    def _sending_ended(self, transfer_id: str, kind: str, message: dict) -> None:
        sending = self.outgoing.pop(transfer_id, None)
        if sending is None:
            return
        self._stop_sending(sending)
        outgoing = sending.outgoing
        if kind == "file.done" and message.get("sha256") == outgoing.sha256 and message.get("size") == outgoing.size:
            log.info("file %s was received whole by the console", transfer_id)
            self._say(self.messages("files.sent", name=outgoing.name, size=names.human_size(outgoing.size)))
        else:
            reason = one_line(wire.reason_text(message.get("reason")) or kind, limit=80)
            log.warning("file %s was not received: %s", transfer_id, reason)
            self._say(self.messages("files.send_failed", name=outgoing.name, reason=reason))

    @staticmethod
    def _stop_sending(sending: Sending) -> None:
        if sending.task is not None:
            sending.task.cancel()
        sending.outgoing.close()
