"""Text from outside the agent, made safe to print on the customer's terminal.

A consultant's name, a close reason, anything the gateway (or whoever answers in its place) sends, and the log lines
that quote them, all reach the customer's terminal. An escape sequence in them could move the cursor, rewrite the
status line ("consultant: Your Bank's Security Team"), retitle the window, or worse: they are shown without it.
"""

from __future__ import annotations

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
