"""Ports for processes that will listen on them shortly: picked where nothing else is handed them.

A port picked now and bound seconds later (by a service that is still importing) can be taken in between, and the
service then dies with "address already in use". Two things take such a port. The kernel gives the local end of
every outgoing connection a port of its ephemeral range (`net.ipv4.ip_local_port_range`, 32768-60999 on Linux), and
a machine running a test suite opens hundreds of connections a second; so ports are picked below that range, where
the kernel never picks. And other processes picking the same way: `ASSIST_FREE_PORTS` gives each of several
concurrent pickers (the test suite's workers) a range of its own.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_FIRST_EPHEMERAL_ELSEWHERE = 32768  # below both Linux's default range and the IANA one (49152-65535) of macOS
_BELOW_EPHEMERAL = 16384  # how many ports under the ephemeral range are picked from
_TRIES = 10_000


class PortSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", env_ignore_empty=True)

    # `first-last`: pick only from these ports (each test worker gets a range of its own); unset: the 16384 ports
    # just below the kernel's ephemeral range.
    assist_free_ports: str | None = None

    @field_validator("assist_free_ports")
    @classmethod
    def _a_range(cls, value: str | None) -> str | None:
        if value is not None:
            port_range(value)
        return value


def port_range(text: str) -> range:
    """`first-last` (both included) as a range; ValueError unless 1024 <= first <= last <= 65535."""
    first, separator, last = text.partition("-")
    if not separator or not first.strip().isdigit() or not last.strip().isdigit():
        raise ValueError(f"a port range is written first-last, such as 20000-24999, not {text!r}")
    low, high = int(first), int(last)
    if not 1024 <= low <= high <= 65535:
        raise ValueError(f"a port range lies within 1024-65535 and starts at or before its end, not {text!r}")
    return range(low, high + 1)


def first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _FIRST_EPHEMERAL_ELSEWHERE


def pickable_ports() -> range:
    configured = PortSettings().assist_free_ports
    if configured is not None:
        return port_range(configured)
    first_ephemeral = first_ephemeral_port()
    return range(max(1024, first_ephemeral - _BELOW_EPHEMERAL), max(1024, first_ephemeral))


def share_of_ports(index: int, count: int) -> str:
    """The `index`-th of `count` equal parts of the pickable ports, as an `ASSIST_FREE_PORTS` value."""
    ports = pickable_ports()
    size = len(ports) // count
    return f"{ports.start + index * size}-{ports.start + (index + 1) * size - 1}"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int, *, avoid: Iterable[int] = (), consecutive: bool = False) -> list[int]:
    """`count` different ports that are free right now and are none of `avoid` (ports picked for processes that
    have not bound them yet); with `consecutive`, `count` ports in a row."""
    candidates = pickable_ports()
    if len(candidates) < count:
        raise RuntimeError(f"cannot pick {count} ports from {len(candidates)} ({candidates.start}-"
                           f"{candidates.stop - 1}): widen ASSIST_FREE_PORTS")
    avoided = set(avoid)
    picker = random.Random()  # seeded from the OS: concurrent pickers start at different places
    chosen: list[int] = []
    for _ in range(_TRIES):
        if consecutive:
            first = picker.randrange(candidates.start, candidates.stop - count + 1)
            block = list(range(first, first + count))
            if avoided.isdisjoint(block) and all(_bindable(port) for port in block):
                return block
            continue
        port = picker.randrange(candidates.start, candidates.stop)
        if port not in avoided and port not in chosen and _bindable(port):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError(f"found no {count} free ports in {candidates.start}-{candidates.stop - 1}")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
