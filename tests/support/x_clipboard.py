"""The X clipboard of a test's display, as the customer's own applications use it: xclip reads and sets it."""

from __future__ import annotations

import shutil
import subprocess
import time

from agent_flow import Xvfb


def missing_xclip() -> str | None:
    return None if shutil.which("xclip") else "needs xclip (apt-get install -y xclip; .ci/run installs it)"


def pasted(display: Xvfb) -> str:
    """What an application on the display pastes (the CLIPBOARD selection, Ctrl+V)."""
    return subprocess.run(["xclip", "-o", "-selection", "clipboard"], env=display.env(), capture_output=True,
                          timeout=10).stdout.decode()


def copy(display: Xvfb, text: str, timeout: float = 10.0) -> None:
    """The customer copies `text` in an application of theirs, and it is in the clipboard when this returns. xclip
    stays, in the background, to serve it (its output goes nowhere, or this call would wait for it to end); that
    process takes the selection a moment after the one started here ended."""
    subprocess.run(["xclip", "-i", "-selection", "clipboard"], input=text.encode(), env=display.env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=True)
    deadline = time.monotonic() + timeout
    while pasted(display) != text:
        assert time.monotonic() < deadline, f"the display's clipboard did not take {text!r}"
        time.sleep(0.05)  # polled: xclip's background process is still taking the selection
