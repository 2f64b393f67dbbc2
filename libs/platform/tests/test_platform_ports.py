"""Ports picked for processes that have not bound them yet must not collide: not with the local end of an outgoing
connection (CI lost a gateway to that), not with another picker's, not with a port to avoid."""

from __future__ import annotations

import socket

import pytest
from assist_platform.ports import (
    PortSettings, first_ephemeral_port, free_ports, pickable_ports, port_range, share_of_ports,
)


def test_ports_picked_together_are_all_different_bindable_and_below_the_kernels_ephemeral_range(monkeypatch):
    monkeypatch.delenv("ASSIST_FREE_PORTS", raising=False)
    ports = free_ports(200)
    assert len(set(ports)) == 200
    assert max(ports) < first_ephemeral_port()
    for port in ports[:20]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_a_port_to_avoid_is_never_picked(monkeypatch):
    monkeypatch.setenv("ASSIST_FREE_PORTS", "21000-21999")
    avoid = set(range(21000, 21995))  # all but five, as if processes still starting held them
    assert sorted(free_ports(5, avoid=avoid)) == [21995, 21996, 21997, 21998, 21999]


def test_a_taken_port_is_never_picked(monkeypatch):
    monkeypatch.setenv("ASSIST_FREE_PORTS", "22000-22001")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 22000))
        listener.listen()
        assert free_ports(1) == [22001]


def test_consecutive_ports_come_in_a_row_within_the_configured_range(monkeypatch):
    monkeypatch.setenv("ASSIST_FREE_PORTS", "23000-23099")
    block = free_ports(4, consecutive=True)
    assert block == list(range(block[0], block[0] + 4))
    assert 23000 <= block[0] and block[-1] <= 23099


def test_workers_get_disjoint_shares_of_the_pickable_ports(monkeypatch):
    monkeypatch.delenv("ASSIST_FREE_PORTS", raising=False)
    shares = [port_range(share_of_ports(index, 3)) for index in range(3)]
    assert all(set(a).isdisjoint(b) for a in shares for b in shares if a is not b)
    assert all(share.start in pickable_ports() and share[-1] in pickable_ports() for share in shares)
    assert min(len(share) for share in shares) > 5000


@pytest.mark.parametrize("text", ["20000", "b-c", "30000-20000", "80-90", "60000-70000"])
def test_a_malformed_range_is_refused_with_the_form_it_must_take(text):
    with pytest.raises(ValueError, match="first-last|within 1024-65535"):
        port_range(text)
    with pytest.raises(ValueError):
        PortSettings(assist_free_ports=text)


def test_too_narrow_a_range_for_the_ports_asked_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("ASSIST_FREE_PORTS", "24000-24001")
    with pytest.raises(RuntimeError, match="widen ASSIST_FREE_PORTS"):
        free_ports(3)
