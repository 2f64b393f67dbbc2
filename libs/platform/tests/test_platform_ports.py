"""Ports picked for processes that have not bound them yet must not collide (CI once lost a gateway to that)."""

from __future__ import annotations

import socket
from pathlib import Path

from assist_platform.natsserver import free_ports


def _ephemeral_range() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except OSError:
        low, high = 32768, 60999
    return range(low, high + 1)


def test_ports_picked_together_are_all_different_and_bindable():
    # 200 independent picks from ~28k ephemeral ports would repeat one about half of the time.
    ports = free_ports(200)
    assert len(set(ports)) == 200
    for port in ports[:20]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_a_port_to_avoid_is_never_picked():
    # All but the last thousand ephemeral ports are taken by processes still starting: a plain pick would land there.
    ephemeral = _ephemeral_range()
    avoid = set(ephemeral[:-1000])
    ports = free_ports(5, avoid=avoid)
    assert len(set(ports)) == 5
    assert not avoid.intersection(ports), "picked a port that another process is about to bind"
