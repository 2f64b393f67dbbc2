"""Platform-specific parts, isolated here (see agent/README.md):

- the terminal: a POSIX PTY (`posix_pty`, Linux and macOS) or a Windows ConPTY through pywinpty (`windows_pty`);
- the kill-switch key reader: `termios` cbreak mode on POSIX, `msvcrt` on Windows (`keys`).
Screen capture (mss) and input injection (pynput) are cross-platform libraries with their own backends:
X11 on Linux (DISPLAY must be set; Wayland sessions need XWayland), Quartz on macOS (the Screen Recording and
Accessibility permissions must be granted to the terminal), Win32 on Windows.
"""

from __future__ import annotations

import sys


def open_terminal(*, on_output, on_exit, cols: int = 80, rows: int = 24):
    """Start the customer's shell in a pseudo-terminal; see `posix_pty.PtyTerminal` for the interface."""
    if sys.platform == "win32":
        from .windows_pty import WinPtyTerminal

        return WinPtyTerminal(on_output=on_output, on_exit=on_exit, cols=cols, rows=rows)
    from .posix_pty import PtyTerminal

    return PtyTerminal(on_output=on_output, on_exit=on_exit, cols=cols, rows=rows)
