"""Text from outside the agent, made safe to print on the customer's terminal.

A consultant's name, a close reason, anything the gateway (or whoever answers in its place) sends, and the log lines
that quote them, all reach the customer's terminal. An escape sequence in them could move the cursor, rewrite the
status line ("consultant: Your Bank's Security Team"), retitle the window, or worse: they are shown without it.
"""

from __future__ import annotations

import re

# Long enough for any name or reason the gateway sends; a longer one would push the status line off the terminal.
OUTSIDE_TEXT_LIMIT = 200


def printable(text, limit: int = OUTSIDE_TEXT_LIMIT) -> str:
    """`text` with every character a terminal would act on (C0 and C1 controls, DEL, line breaks, bidi overrides
    and other format characters) shown as `?`, and cut to `limit` characters."""
    text = str(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else "?" for char in text)


# Whole escape sequences (CSI, OSC/DCS/PM/APC/SOS strings, two-character ESC sequences, and their C1 forms): removed,
# so what a consultant wrote reads as the words around them, not as "?[2J" noise.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x20-\x3f]*[\x40-\x7e]?"  # CSI ... final
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings, to BEL or ST
    r"|\x1b[\x20-\x7e]?"  # ESC 7, ESC c, ... (or a lone ESC)
)
_LINE_BREAKS = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")


def one_line(text, limit: int = OUTSIDE_TEXT_LIMIT) -> str:
    """Free text from outside (a consultant's reason for a request), as one safe line: escape sequences removed
    whole, line breaks and tabs made spaces, every other character a terminal would act on shown as `?`, cut to
    `limit` characters."""
    text = _LINE_BREAKS.sub(" ", _ESCAPE_SEQUENCE.sub("", str(text))).strip()
    return printable(text, limit=limit)
