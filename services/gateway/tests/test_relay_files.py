"""The relay's gate on channel 5 (issue #17, relay/files.py), as rules: which files frames a sender's replica lets
pass, and which messages the home follows. The whole path, with the real agent, is tests/test_e2e_files.py."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest

from assist_gateway.relay.files import FileRelay, parse_message, valid_offer

TID = "84650442-5f7a-4bde-912c-e5fc0e7a8bef"  # fixed: a parameter of the tests below, the same in every xdist worker


def _message(**fields) -> bytes:
    return bytes((5, 0)) + json.dumps(fields).encode()


def _chunk(transfer_id: str, offset: int, data: bytes) -> bytes:
    return bytes((5, 1)) + uuid.UUID(transfer_id).bytes + offset.to_bytes(8, "big") + data


class Gate(FileRelay):
    def __init__(self, limit: int = 1000) -> None:
        self.settings = SimpleNamespace(file_transfer_max_bytes=limit)
        self.init_files()
        self.refused_offers: list[tuple] = []

    def _refuse_offer_soon(self, endpoint, tid, name, size, sha256, limit) -> None:
        self.refused_offers.append((tid, size, limit))


class _Endpoint:
    """What the gate reads of an endpoint (kept by identity, weakly, as the relay's endpoints are)."""

    def __init__(self, role: str) -> None:
        self.role, self.session_id, self.who = role, "s", "maria"


def _endpoint(role: str = "consultant") -> _Endpoint:
    return _Endpoint(role)


def test_a_chunk_passes_only_for_an_offer_of_its_sender_and_within_its_size():
    gate, consultant, agent = Gate(), _endpoint(), _endpoint("agent")
    assert gate.file_frame_refusal(consultant, _chunk(TID, 0, b"x")) == "a chunk of a file this side did not offer"
    offer = _message(type="file.offer", id=TID, name="a.bin", size=10, sha256="0" * 64)
    assert gate.file_frame_refusal(consultant, offer) is None
    assert gate.file_frame_refusal(consultant, _chunk(TID, 0, b"x" * 10)) is None
    assert gate.file_frame_refusal(consultant, _chunk(TID, 9, b"x")) is None
    assert gate.file_frame_refusal(consultant, _chunk(TID, 9, b"xy")) == "a chunk past the offered size"
    assert gate.file_frame_refusal(consultant, _chunk(TID, 2 ** 64 - 1, b"x")) == "a chunk past the offered size"
    assert gate.file_frame_refusal(agent, _chunk(TID, 0, b"x")) == "a chunk of a file this side did not offer"


def test_an_offer_over_the_limit_is_refused_and_its_data_never_passes():
    gate, consultant = Gate(limit=100), _endpoint()
    offer = _message(type="file.offer", id=TID, name="big.iso", size=101, sha256="0" * 64)
    assert "larger than the 100 bytes allowed" in gate.file_frame_refusal(consultant, offer)
    assert gate.refused_offers == [(TID, 101, 100)]
    assert gate.file_frame_refusal(consultant, _chunk(TID, 0, b"x")) is not None


def test_only_the_latest_offers_of_a_socket_are_kept():
    gate, consultant = Gate(), _endpoint()
    ids = [str(uuid.uuid4()) for _ in range(65)]
    for transfer_id in ids:
        gate.file_frame_refusal(consultant, _message(type="file.offer", id=transfer_id, name="a", size=1,
                                                     sha256="0" * 64))
    assert gate.file_frame_refusal(consultant, _chunk(ids[0], 0, b"x")) is not None
    assert gate.file_frame_refusal(consultant, _chunk(ids[-1], 0, b"x")) is None


@pytest.mark.parametrize("frame", [
    bytes((5,)), bytes((5, 2)), bytes((5, 1)) + b"short", bytes((5, 0)) + b"{", bytes((5, 0)) + b"[]",
    _message(type="file.evil", id=TID), _message(type="file.cancel"), _message(type="file.cancel", id="../x"),
    _message(type="file.offer", id=TID, name="", size=1, sha256="0" * 64),
    _message(type="file.offer", id=TID, name="a", size=-1, sha256="0" * 64),
    _message(type="file.offer", id=TID, name="a", size=True, sha256="0" * 64),
    _message(type="file.offer", id=TID, name="a", size=1, sha256="ZZ"),
    bytes((5, 0)) + json.dumps({"type": "file.cancel", "id": TID, "pad": "x" * 5000}).encode(),
])
def test_malformed_files_frames_are_refused(frame):
    assert Gate().file_frame_refusal(_endpoint(), frame) is not None


def test_the_home_reads_only_well_formed_messages():
    assert parse_message(_message(type="file.done", id=TID, sha256="0" * 64, size=1))["type"] == "file.done"
    assert parse_message(_chunk(TID, 0, b"{}")) is None
    assert valid_offer({"id": TID, "name": "a", "size": 1, "sha256": "a" * 64}) == (TID, "a", 1, "a" * 64)
    assert valid_offer({"id": TID, "name": "a" * 1025, "size": 1, "sha256": "a" * 64}) is None
