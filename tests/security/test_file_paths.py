"""File transfers (issue #17) on the customer's disk: whatever name a consultant offers, and whatever the folder holds
(a symlink pointing out, a file already there), a file lands only inside the folder the customer chose, never
overwrites anything, and nothing partial stays after a refusal, a cancel or a withdrawn scope. The agent's own state
machine on a real disk, fed frames as a hostile console would write them."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from assist_agent.filetransfer import wire
from assist_agent.filetransfer.transfers import FileTransfers
from assist_agent.messages import Messages

HOSTILE_NAMES = ["../../.bashrc", "/etc/passwd", "..\\x", "..\\..\\Windows\\System32\\evil.dll", "a\x00b",
                 "ok\x1b]0;pwned\x07.txt", "\u202egnp.exe", "-rf", ".ssh", "../", "..", "CON", "nul.txt",
                 "a/../../b", "~/.profile", "x" * 5000]


class Console:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def send(self, frame: bytes) -> None:
        self.frames.append(frame)


def _world(tmp_path: Path) -> tuple[FileTransfers, Console, Path, Path]:
    home, outside = tmp_path / "home", tmp_path / "outside"
    folder = home / "Downloads"
    folder.mkdir(parents=True)
    outside.mkdir()
    (folder / "passwd").symlink_to(outside / "passwd")  # a link in the folder, pointing out (dangling)
    (folder / "bashrc").write_bytes(b"the customer's own")
    console = Console()
    transfers = FileTransfers(send=console.send, say=lambda *a, **k: None, changed=lambda: None,
                              messages=Messages("en"), home=home, who=lambda: "mallory")
    return transfers, console, folder, outside


async def _offer_and_send(transfers: FileTransfers, name: str, data: bytes, *, key: str = "a") -> str:
    transfer_id = str(uuid.uuid4())
    await transfers.on_payload(wire.message_frame("file.offer", id=transfer_id, name=name, size=len(data),
                                                  sha256=hashlib.sha256(data).hexdigest())[1:])
    await transfers.on_key(key)
    await transfers.on_payload(wire.chunk_frame(transfer_id, 0, data)[1:])
    return transfer_id


def _everything_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


async def test_hostile_names_never_write_outside_the_folder_nor_overwrite(tmp_path):
    transfers, _console, folder, outside = _world(tmp_path)
    before = _everything_under(tmp_path)
    for name in HOSTILE_NAMES:
        await _offer_and_send(transfers, name, b"payload")
    after = _everything_under(tmp_path)
    new = after - before
    assert all(entry.startswith("home/Downloads/") and "/" not in entry[len("home/Downloads/"):] for entry in new)
    assert os.listdir(outside) == []  # the symlink was never followed
    assert (folder / "bashrc").read_bytes() == b"the customer's own"
    assert os.path.islink(folder / "passwd") and not os.path.exists(folder / "passwd")
    assert not any(name.startswith(".") or name.startswith("-") for name in os.listdir(folder))


async def test_a_symlinked_temporary_name_planted_in_advance_is_never_followed(tmp_path):
    transfers, console, folder, outside = _world(tmp_path)
    transfer_id = str(uuid.uuid4())
    (folder / f".x.assist-part-{transfer_id}").symlink_to(outside / "target")
    await transfers.on_payload(wire.message_frame("file.offer", id=transfer_id, name="x", size=1,
                                                  sha256=hashlib.sha256(b"1").hexdigest())[1:])
    await transfers.on_key("a")
    assert wire.decode(console.frames[-1][1:])["type"] == "file.failed"
    assert os.listdir(outside) == []


@pytest.mark.parametrize("how", ["refuse", "cancel", "scope", "past the size", "wrong hash"])
async def test_nothing_partial_stays_whatever_stops_the_transfer(tmp_path, how):
    transfers, console, folder, _outside = _world(tmp_path)
    before = set(os.listdir(folder))
    data = os.urandom(200_000)
    transfer_id = str(uuid.uuid4())
    sha = "0" * 64 if how == "wrong hash" else hashlib.sha256(data).hexdigest()
    await transfers.on_payload(wire.message_frame("file.offer", id=transfer_id, name="setup.exe", size=len(data),
                                                  sha256=sha)[1:])
    await transfers.on_key("r" if how == "refuse" else "a")
    chunks = [(offset, data[offset:offset + 65536]) for offset in range(0, len(data), 65536)]
    for offset, piece in chunks[:2]:
        await transfers.on_payload(wire.chunk_frame(transfer_id, offset, piece)[1:])
    if how == "cancel":
        await transfers.on_payload(wire.message_frame("file.cancel", id=transfer_id)[1:])
    elif how == "scope":
        transfers.stop_all("scope")
    elif how == "past the size":
        await transfers.on_payload(wire.chunk_frame(transfer_id, len(data) - 10, b"y" * 20)[1:])
    else:
        for offset, piece in chunks[2:]:
            await transfers.on_payload(wire.chunk_frame(transfer_id, offset, piece)[1:])
    assert set(os.listdir(folder)) == before


async def test_an_offer_over_the_limit_or_data_of_an_unknown_file_writes_nothing(tmp_path):
    transfers, console, folder, _outside = _world(tmp_path)
    transfers.max_bytes = 100
    before = set(os.listdir(folder))
    await _offer_and_send(transfers, "big.bin", b"x" * 101)
    await transfers.on_payload(wire.chunk_frame(str(uuid.uuid4()), 0, b"never offered")[1:])
    assert set(os.listdir(folder)) == before
    assert [wire.decode(frame[1:])["reason"] for frame in console.frames] == ["too_large"]
