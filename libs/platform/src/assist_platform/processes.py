"""Ending a child process the same way everywhere: asked first, killed only if it does not end in time."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds; returns once it has ended."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
