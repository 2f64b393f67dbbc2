"""Which displays the agent can share (issue #17): the physical monitors as mss lists them, the one shared first,
and the consultant's `screen.select` checked against them. Pure rules over plain data; the capture is screen.py's.

mss numbers a computer's monitors from 1 (index 0 is the union of all of them); the hello lists them with those
numbers, and a console picks one by its number. Nothing the console sends is trusted: only an index of the agent's
own list selects anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MonitorRefused(ValueError):
    """A `screen.select` the agent does not act on; the message is the reason the console is told."""


@dataclass(frozen=True)
class Monitor:
    index: int  # as mss numbers it: 1, 2, ...
    left: int
    top: int
    width: int
    height: int
    primary: bool = False

    @property
    def origin(self) -> tuple[int, int]:
        """Where the monitor's top-left pixel is on the desktop: pointer coordinates are relative to it."""
        return self.left, self.top

    def region(self) -> dict:
        """What mss grabs."""
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}

    def described(self) -> dict:
        """As the hello lists it."""
        return {"index": self.index, "width": self.width, "height": self.height, "left": self.left, "top": self.top,
                "primary": self.primary}


def from_mss(monitors: Sequence[dict]) -> tuple[Monitor, ...]:
    """mss's `monitors` (index 0 the whole desktop, then each monitor) as the physical ones, numbered as mss numbers
    them; a platform that lists no monitor of its own shares the whole desktop as screen 1."""
    physical = list(monitors[1:]) or list(monitors[:1])
    return tuple(Monitor(index=number, left=int(found["left"]), top=int(found["top"]), width=int(found["width"]),
                         height=int(found["height"]), primary=bool(found.get("is_primary", False)))
                 for number, found in enumerate(physical, start=1))


def shared_first(monitors: Sequence[Monitor]) -> Monitor | None:
    """The monitor shared until the consultant picks another: the primary one, else the first; None: no screen."""
    return next((monitor for monitor in monitors if monitor.primary), monitors[0] if monitors else None)


def chosen(monitors: Sequence[Monitor], requested) -> Monitor:
    """The monitor a `screen.select` names, or `MonitorRefused`: only the index of one of `monitors` (a JSON integer,
    not a boolean, a float or a string) selects anything. The reason never repeats what was sent."""
    if not monitors:
        raise MonitorRefused("this computer has no screen to share")
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise MonitorRefused("`monitor` must be the number of a screen the agent's hello lists")
    found = next((monitor for monitor in monitors if monitor.index == requested), None)
    if found is None:
        numbers = ", ".join(str(monitor.index) for monitor in monitors)
        raise MonitorRefused(f"there is no such screen: this computer shares screens {numbers}")
    return found
