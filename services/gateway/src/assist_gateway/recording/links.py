"""The customer's time-limited playback links (`/recordings/{id}?ticket=...`): minted for the session's customer,
checked by the recording's GET routes and the playback page (the ticket rules are rules.py's).

Every replica must check what any replica signed, so the secret is one for the whole deployment:
- `RECORDING_LINK_SECRET` when set (Kubernetes: from a Secret; at least 32 characters);
- else the file `<ASSIST_DATA_DIR>/recording-link.secret`, made once with 32 random bytes by whichever process gets
  there first and read by every other. `assist dev`'s replicas share that directory, so they agree, and a restart
  keeps the links it gave out valid. Replicas that do not share a data directory (Kubernetes) must set the secret.
The secret is read when a link is first minted or checked, not at start: a gateway that cannot write its data
directory still serves everything else, and answers links with 503 (and says why in its log).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from assist_platform.problems import Problem

from .rules import TicketVerdict, check_ticket, sign_ticket

log = logging.getLogger(__name__)
SECRET_FILE = "recording-link.secret"
SECRET_BYTES = 32


def page_path(session_id: str) -> str:
    return f"/recordings/{session_id}"


def secret_from_data_dir(data_dir: Path) -> bytes:
    """The deployment's secret kept in `data_dir`, made now if there is none. Written whole under a scratch name and
    then linked into place, which fails if another process was first: every process ends up with the same one."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        scratch = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(scratch, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(SECRET_BYTES) + "\n")
            try:
                os.link(scratch, path)
            except FileExistsError:
                pass  # another replica made it first: theirs counts
        finally:
            scratch.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path} holds no usable secret; delete it to have a new one made")
    return secret.encode()


@dataclass
class PlaybackLinks:
    """Mints and checks the tickets of one gateway process (app.state.playback_links)."""

    configured_secret: str | None
    data_dir: Path
    lifetime_seconds: int
    _secret: bytes | None = None

    @classmethod
    def from_settings(cls, settings) -> PlaybackLinks:
        configured = settings.recording_link_secret
        return cls(configured_secret=configured.get_secret_value() if configured is not None else None,
                   data_dir=settings.assist_data_dir, lifetime_seconds=settings.recording_link_seconds)

    def secret(self) -> bytes:
        if self._secret is None:
            if self.configured_secret:
                self._secret = self.configured_secret.encode()
            else:
                try:
                    self._secret = secret_from_data_dir(self.data_dir)
                except (OSError, ValueError) as error:
                    log.error("playback links are off: set RECORDING_LINK_SECRET (%s)", error)
                    raise Problem(503, "Service unavailable", "Playback links are not available right now.",
                                  code="recording_links_unavailable") from None
        return self._secret

    def mint(self, session_id: str, *, now: float | None = None) -> tuple[str, int]:
        """The page's path with a fresh ticket, and when it expires (unix seconds)."""
        expires = int(now if now is not None else time.time()) + self.lifetime_seconds
        ticket = sign_ticket(secret=self.secret(), session_id=session_id, expires=expires)
        return f"{page_path(session_id)}?ticket={ticket}", expires

    def check(self, ticket: str, session_id: str, *, now: float | None = None) -> TicketVerdict:
        return check_ticket(secret=self.secret(), ticket=ticket, session_id=session_id,
                            now=now if now is not None else time.time())
