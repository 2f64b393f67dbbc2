"""File transfers at the agent (issue #17): the wire format, the rules for names and paths on the customer's disk,
and the agent's state machine, driven by frames as the console sends them and keys as the customer presses them."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import struct
import uuid
from pathlib import Path

import pytest

from assist_agent import framing
from assist_agent.connection import Agent
from assist_agent.filetransfer import names, wire
from assist_agent.filetransfer.incoming import Incoming, TransferError, sweep_parts
from assist_agent.filetransfer.outgoing import Outgoing, readable_file
from assist_agent.filetransfer.transfers import FileTransfers
from assist_agent.messages import CATALOGUE, Messages
from assist_agent.platforms.keys import KeyWatcher
from assist_agent.status import StatusLine

TID = "0b6f1f3e-2f6a-4c55-9a55-6b3c1f0e9a01"


# --- the wire ------------------------------------------------------------------------------------------------------
def test_a_chunk_is_kind_1_the_ids_16_bytes_a_big_endian_offset_then_the_bytes():
    frame = wire.chunk_frame(TID, 65536, b"abc")
    assert frame[0] == framing.FILES and frame[1] == wire.DATA
    assert frame[2:18] == uuid.UUID(TID).bytes
    assert struct.unpack(">Q", frame[18:26]) == (65536,)
    assert frame[26:] == b"abc"
    assert wire.decode(frame[1:]) == wire.Chunk(TID, 65536, b"abc")


def test_a_message_is_kind_0_and_json_with_a_known_type():
    frame = wire.message_frame("file.accept", id=TID, offset=0)
    assert frame[:2] == bytes((framing.FILES, wire.MESSAGE))
    assert wire.decode(frame[1:]) == {"type": "file.accept", "id": TID, "offset": 0}


@pytest.mark.parametrize("payload", [b"", b"\x02{}", b"\x01" + b"x" * 10, b"\x00not json", b"\x00[1]",
                                     b'\x00{"type":"hello"}', b"\x00" + b'{"type":"file.offer","x":"' +
                                     b"a" * 5000 + b'"}'])
def test_unreadable_payloads_are_refused(payload):
    with pytest.raises(wire.WireError):
        wire.decode(payload)


@pytest.mark.parametrize("fields", [
    {"id": "nope", "name": "a", "size": 1, "sha256": "0" * 64},
    {"id": TID, "name": "", "size": 1, "sha256": "0" * 64},
    {"id": TID, "name": "a", "size": -1, "sha256": "0" * 64},
    {"id": TID, "name": "a", "size": True, "sha256": "0" * 64},
    {"id": TID, "name": "a", "size": 1.5, "sha256": "0" * 64},
    {"id": TID, "name": "a", "size": 1, "sha256": "0" * 63},
    {"id": TID, "name": "a", "size": 1, "sha256": "A" * 64},
    {"id": TID, "name": 7, "size": 1, "sha256": "0" * 64},
])
def test_a_malformed_offer_is_refused(fields):
    with pytest.raises(wire.WireError):
        wire.parse_offer({"type": "file.offer", **fields})


def test_chunks_stay_far_below_the_gateways_message_limit():
    assert wire.CHUNK_BYTES + wire.DATA_PREFIX + 1 < 1048576 // 8


# --- names ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("offered, safe", [
    ("setup.exe", "setup.exe"),
    ("../../.bashrc", "bashrc"),
    ("/etc/passwd", "passwd"),
    ("..\\x", "x"),
    ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
    ("a\x00b\x1b[2Jc.txt", "ab[2Jc.txt"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("-rf", "rf"),
    ("...hidden", "hidden"),
    ("name. . .", "name"),
    ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
    ("tab\there.txt", "tab here.txt"),
    ("Здравей свят.pdf", "Здравей свят.pdf"),
    ("e\u0301.txt", "\u00e9.txt"),
])
def test_an_offered_name_becomes_a_safe_base_name(offered, safe):
    assert names.safe_name(offered) == safe


@pytest.mark.parametrize("offered", ["", ".", "..", "../", "/", "\\", "\x00", " . - ", "\u202e", "CON", "con.txt",
                                     "Nul", "aux.tar.gz", "COM1.log", "lpt9", "prn "])
def test_nothing_safe_left_or_a_windows_device_name_is_refused(offered):
    assert names.safe_name(offered) is None


def test_a_long_name_is_cut_in_bytes_keeping_its_extension():
    name = names.safe_name("я" * 300 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= names.NAME_BYTES
    assert len(names.part_name(name, TID).encode()) <= 255


def test_a_taken_name_gets_a_number_and_never_overwrites():
    taken = {"report.pdf", "report (1).pdf"}
    assert names.unique_name("report.pdf", taken.__contains__) == "report (2).pdf"
    assert names.unique_name("bashrc", {"bashrc"}.__contains__) == "bashrc (1)"
    assert names.unique_name("free.txt", taken.__contains__) == "free.txt"
    assert names.unique_name("x", lambda name: True) is None


def test_temporaries_are_hidden_and_recognised():
    part = names.part_name("setup.exe", TID)
    assert part == f".setup.exe.assist-part-{TID}" and names.is_part_file(part)
    assert not names.is_part_file("setup.exe") and not names.is_part_file(".x.assist-part-123")


def test_the_default_folder_is_downloads_if_there_else_home(tmp_path):
    assert names.default_folder(tmp_path) == tmp_path
    (tmp_path / "Downloads").mkdir()
    assert names.default_folder(tmp_path) == tmp_path / "Downloads"


def test_a_typed_folder_must_exist(tmp_path):
    (tmp_path / "In").mkdir()
    (tmp_path / "file").write_text("x")
    assert names.chosen_folder("In", tmp_path) == tmp_path / "In"
    assert names.chosen_folder(str(tmp_path / "In"), tmp_path) == tmp_path / "In"
    for typed in ("", "missing", "file", "a\x00b"):
        assert names.chosen_folder(typed, tmp_path) is None


def test_sizes_read_as_file_managers_show_them():
    assert [names.human_size(n) for n in (17, 980_000, 12_345_678, 2 * 1024 ** 3)] == [
        "17 B", "980 KB", "12.3 MB", "2.1 GB"]


# --- a file received ----------------------------------------------------------------------------------------------
def _offer(data: bytes, name: str = "setup.exe", transfer_id: str = TID) -> wire.Offer:
    return wire.Offer(transfer_id, name, len(data), hashlib.sha256(data).hexdigest())


def test_a_file_is_written_hidden_then_named_when_its_hash_matches(tmp_path):
    data = os.urandom(200_000)
    incoming = Incoming(_offer(data), tmp_path, "setup.exe")
    assert incoming.part.name.startswith(".") and incoming.part.exists()
    for offset in range(0, len(data), 65536):
        assert incoming.write(wire.Chunk(TID, offset, data[offset:offset + 65536])) == "written"
    final = incoming.finish()
    assert final == tmp_path / "setup.exe" and final.read_bytes() == data
    assert os.listdir(tmp_path) == ["setup.exe"]


def test_a_wrong_hash_leaves_nothing(tmp_path):
    incoming = Incoming(wire.Offer(TID, "a", 3, "0" * 64), tmp_path, "a")
    incoming.write(wire.Chunk(TID, 0, b"abc"))
    with pytest.raises(TransferError):
        incoming.finish()
    assert os.listdir(tmp_path) == []


def test_more_than_offered_fails_and_duplicates_or_gaps_write_nothing(tmp_path):
    incoming = Incoming(_offer(b"abcdef"), tmp_path, "a")
    assert incoming.write(wire.Chunk(TID, 2, b"cd")) == "gap"
    assert incoming.write(wire.Chunk(TID, 0, b"abcd")) == "written"
    assert incoming.write(wire.Chunk(TID, 0, b"ab")) == "duplicate"
    assert incoming.write(wire.Chunk(TID, 2, b"cdef")) == "written"  # only "ef" is new
    assert incoming.received == 6
    with pytest.raises(TransferError):
        incoming.write(wire.Chunk(TID, 6, b"g"))
    assert incoming.finish().read_bytes() == b"abcdef"


def test_an_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "setup.exe").write_bytes(b"mine")
    incoming = Incoming(_offer(b"new"), tmp_path, "setup.exe")
    incoming.write(wire.Chunk(TID, 0, b"new"))
    assert incoming.finish() == tmp_path / "setup (1).exe"
    assert (tmp_path / "setup.exe").read_bytes() == b"mine"


def test_a_symlink_in_the_folder_is_never_followed(tmp_path):
    folder, outside = tmp_path / "in", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "bashrc").symlink_to(outside / "bashrc")  # dangling, pointing out
    (folder / names.part_name("x", TID)).symlink_to(outside / "part")
    with pytest.raises((FileExistsError, TransferError)):
        Incoming(_offer(b"x"), folder, "x")  # the temporary's name is taken by a link: refused, never followed
    incoming = Incoming(_offer(b"evil", transfer_id=str(uuid.uuid4())), folder, "bashrc")
    incoming.write(wire.Chunk(incoming.offer.transfer_id, 0, b"evil"))
    final = incoming.finish()
    assert final == folder / "bashrc (1)" and os.listdir(outside) == []


def test_a_folder_that_is_a_symlink_is_resolved_first(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    incoming = Incoming(_offer(b"x"), tmp_path / "link", "x")
    incoming.write(wire.Chunk(TID, 0, b"x"))
    assert incoming.finish() == real / "x"


def test_a_stop_deletes_the_temporary_and_a_start_sweeps_stale_ones(tmp_path):
    incoming = Incoming(_offer(b"abc"), tmp_path, "a")
    incoming.write(wire.Chunk(TID, 0, b"ab"))
    incoming.discard()
    assert os.listdir(tmp_path) == []
    stale = tmp_path / names.part_name("old.zip", str(uuid.uuid4()))
    stale.write_bytes(b"left by a killed agent")
    (tmp_path / "keep.txt").write_text("mine")
    assert sweep_parts(tmp_path) == [stale.name]
    assert os.listdir(tmp_path) == ["keep.txt"]


# --- a file sent ---------------------------------------------------------------------------------------------------
def test_a_sent_file_goes_on_from_the_receivers_offset(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(150_000))
    outgoing = Outgoing.of(path)
    assert json.loads(outgoing.offer_frame()[2:])["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    outgoing.accept(70_000)
    chunks = []
    while (frame := outgoing.next_frame()) is not None:
        chunks.append(wire.decode(frame[1:]))
    assert [chunk.offset for chunk in chunks] == [70_000, 70_000 + 65536]
    assert b"".join(chunk.data for chunk in chunks) == path.read_bytes()[70_000:]
    outgoing.accept("junk")
    assert outgoing.position == 0


def test_only_a_readable_regular_file_within_the_limit_may_be_asked_for(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "link").symlink_to(tmp_path / "a.txt")
    assert readable_file(tmp_path / "link", 100) == (tmp_path / "a.txt", "")
    assert readable_file(tmp_path / "a.txt", 4) == (None, "too_large")
    assert readable_file(tmp_path, 100) == (None, "not_a_file")
    assert readable_file(tmp_path / "nope", 100) == (None, "not_found")


# --- the agent's state machine ------------------------------------------------------------------------------------
class Console:
    """The frames the agent sends, as the console would read them."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.frames.append(data)

    def messages(self, kind: str | None = None) -> list[dict]:
        found = [wire.decode(frame[1:]) for frame in self.frames if frame[0] == framing.FILES]
        return [m for m in found if isinstance(m, dict) and (kind is None or m["type"] == kind)]


def _transfers(tmp_path: Path, **kwargs) -> tuple[FileTransfers, Console, list[str]]:
    console, said = Console(), []
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True, exist_ok=True)
    transfers = FileTransfers(send=console.send, say=lambda text, **_: said.append(text), changed=lambda: None,
                              messages=Messages("en"), home=home, who=lambda: "elena", **kwargs)
    return transfers, console, said


def _offer_frame(data: bytes, name: str = "setup.exe", transfer_id: str = TID) -> bytes:
    return wire.message_frame("file.offer", id=transfer_id, name=name, size=len(data),
                              sha256=hashlib.sha256(data).hexdigest())[1:]


async def _send_all(transfers: FileTransfers, data: bytes, transfer_id: str = TID, start: int = 0) -> None:
    for offset in range(start, len(data), wire.CHUNK_BYTES):
        await transfers.on_payload(wire.chunk_frame(transfer_id, offset, data[offset:offset + wire.CHUNK_BYTES])[1:])


async def test_an_offer_is_asked_then_saved_in_downloads_with_its_hash(tmp_path):
    transfers, console, said = _transfers(tmp_path)
    data = os.urandom(300_000)
    await transfers.on_payload(_offer_frame(data))
    assert said[-2:] == ["[file] elena sends you setup.exe (300 KB).",
                         "A: save to ~/Downloads, F: choose a folder, R: refuse."]
    assert transfers.keys_hint() == "file? A/F/R"
    await _send_all(transfers, data)  # before the customer's answer: dropped
    assert console.messages() == []
    await transfers.on_key("A")
    assert console.messages("file.accept") == [{"type": "file.accept", "id": TID, "offset": 0}]
    await _send_all(transfers, data)
    saved = transfers.home / "Downloads" / "setup.exe"
    assert saved.read_bytes() == data
    assert console.messages("file.done") == [{"type": "file.done", "id": TID, "size": len(data),
                                              "sha256": hashlib.sha256(data).hexdigest()}]
    assert console.messages("file.progress")  # at most a few a second, at least one here
    assert os.listdir(saved.parent) == ["setup.exe"]


async def test_f_saves_into_a_typed_folder_and_a_wrong_one_is_asked_again(tmp_path):
    transfers, console, said = _transfers(tmp_path)
    (transfers.home / "Work").mkdir()
    await transfers.on_payload(_offer_frame(b"hello"))
    assert transfers.wants_folder("f") and not transfers.wants_folder("a")
    await transfers.choose_folder("~/missing")
    assert "is not a folder" in said[-1] and transfers.question is not None
    await transfers.choose_folder("Work")
    await _send_all(transfers, b"hello")
    assert (transfers.home / "Work" / "setup.exe").read_bytes() == b"hello"


async def test_r_refuses_and_nothing_is_written(tmp_path):
    transfers, console, _ = _transfers(tmp_path)
    await transfers.on_payload(_offer_frame(b"hello"))
    await transfers.on_key("r")
    assert console.messages() == [{"type": "file.refuse", "id": TID, "reason": "refused"}]
    await _send_all(transfers, b"hello")
    assert os.listdir(transfers.home / "Downloads") == [] and transfers.question is None


async def test_too_large_or_unnamable_offers_are_refused_without_asking(tmp_path):
    transfers, console, said = _transfers(tmp_path, max_bytes=4)
    await transfers.on_payload(_offer_frame(b"hello"))
    await transfers.on_payload(_offer_frame(b"hi", name="CON", transfer_id=str(uuid.uuid4())))
    assert [m["reason"] for m in console.messages("file.refuse")] == ["too_large", "bad_name"]
    assert transfers.question is None


async def test_traversal_names_never_write_outside_the_folder(tmp_path):
    transfers, console, _ = _transfers(tmp_path)
    for name in ("../../.bashrc", "/etc/passwd", "..\\x", "a\x1b]0;x\x07b"):
        transfer_id = str(uuid.uuid4())
        await transfers.on_payload(_offer_frame(b"x", name=name, transfer_id=transfer_id))
        await transfers.on_key("a")
        await _send_all(transfers, b"x", transfer_id)
    assert sorted(os.listdir(transfers.home / "Downloads")) == ["a]0;xb", "bashrc", "passwd", "x"]
    assert sorted(os.listdir(transfers.home)) == ["Downloads"]


async def test_chunks_of_unknown_ids_or_past_the_size_are_dropped(tmp_path):
    transfers, console, _ = _transfers(tmp_path)
    await _send_all(transfers, b"x" * 10, str(uuid.uuid4()))
    await transfers.on_payload(_offer_frame(b"abc"))
    await transfers.on_key("a")
    await transfers.on_payload(wire.chunk_frame(TID, 0, b"abcdef")[1:])
    assert console.messages("file.failed")[0]["reason"] == "more data than the offer's size"
    assert os.listdir(transfers.home / "Downloads") == []


async def test_a_cancel_or_a_withdrawn_scope_deletes_the_partial_file(tmp_path):
    transfers, console, said = _transfers(tmp_path)
    data = os.urandom(200_000)
    for transfer_id in (TID, str(uuid.uuid4())):
        await transfers.on_payload(_offer_frame(data, transfer_id=transfer_id))
        await transfers.on_key("a")
        await transfers.on_payload(wire.chunk_frame(transfer_id, 0, data[:65536])[1:])
    downloads = transfers.home / "Downloads"
    assert len(os.listdir(downloads)) == 2  # two hidden temporaries
    await transfers.on_payload(wire.message_frame("file.cancel", id=TID)[1:])
    assert len(os.listdir(downloads)) == 1 and "stopped setup.exe" in said[-1]
    transfers.stop_all("scope")
    assert os.listdir(downloads) == [] and "access to files was taken back" in said[-1]


async def test_a_resumed_offer_goes_on_from_the_bytes_received_and_a_gap_is_answered_once(tmp_path):
    transfers, console, _ = _transfers(tmp_path)
    data = os.urandom(300_000)
    await transfers.on_payload(_offer_frame(data))
    await transfers.on_key("a")
    await transfers.on_payload(wire.chunk_frame(TID, 0, data[:65536])[1:])
    for _ in range(3):  # frames lost: later chunks arrive
        await transfers.on_payload(wire.chunk_frame(TID, 131072, data[131072:196608])[1:])
    assert [m["offset"] for m in console.messages("file.accept")] == [0, 65536]
    await transfers.on_payload(_offer_frame(data))  # the sender back after a drop: the same id again, not asked
    assert [m["offset"] for m in console.messages("file.accept")] == [0, 65536, 65536]
    await _send_all(transfers, data, start=0)  # resent from the start: what was had is skipped
    assert (transfers.home / "Downloads" / "setup.exe").read_bytes() == data


async def test_a_requested_file_is_sent_after_the_customer_allows_it(tmp_path):
    transfers, console, said = _transfers(tmp_path)
    data = os.urandom(100_000)
    (transfers.home / "report.pdf").write_bytes(data)
    await transfers.on_payload(wire.message_frame("file.request", id=TID, path="~/report.pdf")[1:])
    assert "asks for your file" in said[-2] and transfers.keys_hint() == "file? A/R"
    await transfers.on_key("A")
    offer = console.messages("file.offer")[0]
    assert offer["sha256"] == hashlib.sha256(data).hexdigest() and offer["name"] == "report.pdf"
    await transfers.on_payload(wire.message_frame("file.accept", id=TID, offset=0)[1:])
    await transfers.outgoing[TID].task
    chunks = [wire.decode(frame[1:]) for frame in console.frames if frame[1] == wire.DATA]
    assert b"".join(chunk.data for chunk in chunks) == data
    await transfers.on_payload(wire.message_frame("file.done", id=TID, sha256=offer["sha256"], size=len(data))[1:])
    assert said[-1] == "[file] report.pdf was sent (100 KB)."


async def test_a_request_for_a_missing_file_or_a_folder_is_refused_without_asking(tmp_path):
    transfers, console, _ = _transfers(tmp_path)
    await transfers.on_payload(wire.message_frame("file.request", id=TID, path="/nonexistent/x")[1:])
    await transfers.on_payload(wire.message_frame("file.request", id=str(uuid.uuid4()), path="~")[1:])
    assert [m["reason"] for m in console.messages("file.refuse")] == ["not_found", "not_a_file"]


async def test_the_agent_refuses_files_frames_without_the_scope(tmp_path):
    agent = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(io.StringIO(), Messages("en")),
                  home=tmp_path)
    agent._loop = asyncio.get_running_loop()
    sent: list[bytes] = []

    class Socket:
        async def send(self, data):
            sent.append(data)

    agent._ws = Socket()
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": ["view"],
                             "file_max_bytes": 10})
    await agent.channels.on_frame(framing.FILES.to_bytes(1, "big") + _offer_frame(b"x"))
    assert agent.files.question is None and agent.channels.refusals == 1
    assert agent.files.max_bytes == 10


async def test_a_scopes_message_without_files_stops_every_transfer(tmp_path):
    (tmp_path / "Downloads").mkdir()
    agent = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(io.StringIO(), Messages("en")),
                  home=tmp_path)
    agent._loop = asyncio.get_running_loop()

    class Socket:
        async def send(self, data):
            pass

    agent._ws = Socket()
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t",
                             "scopes": ["view", "files"]})
    await agent.channels.on_frame(bytes((framing.FILES,)) + _offer_frame(b"abcdef"))
    await agent.files.on_key("a")
    await agent.channels.on_frame(wire.chunk_frame(TID, 0, b"abc"))
    assert len(os.listdir(tmp_path / "Downloads")) == 1
    await agent._on_gateway({"type": "scopes", "scopes": ["view"]})
    assert os.listdir(tmp_path / "Downloads") == []
    await agent.channels.on_frame(bytes((framing.FILES,)) + _offer_frame(b"x", transfer_id=str(uuid.uuid4())))
    assert agent.files.question is None


def test_the_file_keys_open_the_folder_prompt_only_for_an_offer():
    calls = []
    wants = {"f": True}
    watcher = KeyWatcher(lambda: calls.append("end"), on_file=lambda key: calls.append(key) or wants.get(key, False),
                         on_folder=lambda text: calls.append(("folder", text)),
                         on_folder_draft=lambda draft: calls.append(("draft", draft)),
                         on_chat=lambda text: calls.append(("chat", text)))
    watcher.on_keys("aR")
    assert calls == ["a", "R"]
    watcher.on_keys("f~/Work\r")
    assert ("folder", "~/Work") in calls and ("chat", "~/Work") not in calls
    assert calls[-1] == ("draft", None) or calls[-2] == ("draft", None)
    watcher.on_keys("f\x1b")  # Esc goes back to the question: nothing chosen
    assert calls.count(("folder", "~/Work")) == 1 and not watcher.folder_prompt


def test_every_files_message_is_in_both_languages_with_the_same_placeholders():
    import string

    keys = {key for key in CATALOGUE["en"] if key.startswith("files.")}
    assert keys == {key for key in CATALOGUE["bg"] if key.startswith("files.")}
    for key in keys:
        fields = [{name for _, name, _, _ in string.Formatter().parse(CATALOGUE[lang][key]) if name}
                  for lang in ("bg", "en")]
        assert fields[0] == fields[1], key
