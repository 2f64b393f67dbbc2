"""Where a file from the consultant may land on the customer's disk: pure rules, tested exhaustively.

The name a consultant offers is data from outside. It is reduced to a safe base name (`safe_name`): no folder part
(`/`, `\\`, `..`), no control, format or bidirectional characters (a right-to-left override would show
"invoice‮fdp.exe" as "invoiceexe.pdf"), none of the characters Windows refuses, no leading dot (a hidden file) or
dash (an option to a command), no trailing dot or space, at most NAME_BYTES bytes; a name Windows reserves for a
device (CON, NUL, COM1, ... with or without an extension) is refused. The final path must resolve inside the chosen
folder (`inside`, after symlinks), an existing name is never overwritten (`unique_name`: "name (1).ext"), and the file
is written first as a hidden temporary beside it (`part_name`), which the agent removes whatever happens.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

NAME_BYTES = 150  # UTF-8 bytes of a name: its temporary adds 50, and file systems allow 255
WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$",
                    *(f"com{n}" for n in "0123456789¹²³"), *(f"lpt{n}" for n in "0123456789¹²³")}
PART_MARK = ".assist-part-"
PART_FILE = re.compile(r"^\..+\.assist-part-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UNIQUE_TRIES = 1000


def _kept(char: str) -> bool:
    category = unicodedata.category(char)
    # Cc controls (NUL, ESC, DEL, C1), Cf format (bidi overrides, zero-width), Cs/Co/Cn, line separators.
    return category not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def safe_name(offered: str) -> str | None:
    """The offered name as a safe base name, or None when nothing safe is left (or it names a Windows device)."""
    if not isinstance(offered, str):
        return None
    text = unicodedata.normalize("NFC", offered)
    text = re.split(r"[/\\]", text)[-1]  # the base name alone, whichever separator the sender's system uses
    text = "".join(" " if char.isspace() else char for char in text)  # a tab or a line break: a space
    text = "".join("_" if char in WINDOWS_FORBIDDEN else char for char in text if _kept(char))
    text = text.strip(" .-")  # no hidden file, no option, nothing Windows would drop from the end
    if not text or text in (".", ".."):
        return None
    text = _cut(text)
    if text.split(".")[0].strip().lower() in WINDOWS_RESERVED:
        return None
    return text


def _cut(name: str) -> str:
    """At most NAME_BYTES bytes of UTF-8, the extension kept when it is short."""
    if len(name.encode()) <= NAME_BYTES:
        return name
    stem, extension = os.path.splitext(name)
    if len(extension.encode()) > 20:
        stem, extension = name, ""
    room = NAME_BYTES - len(extension.encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(" .-")
    return (stem or "file") + extension


def numbered(name: str, number: int) -> str:
    """`name (n).ext`: the n-th other name for a file whose name is taken."""
    stem, extension = os.path.splitext(name)
    if not stem:  # "bashrc" has no extension; ".x" cannot occur (no leading dot)
        stem, extension = name, ""
    suffix = f" ({number})"
    stem = stem.encode()[: NAME_BYTES - len(extension.encode()) - len(suffix)].decode(errors="ignore")
    return f"{stem}{suffix}{extension}"


def unique_name(name: str, taken: Callable[[str], bool]) -> str | None:
    """`name`, or the first `name (n).ext` not taken; None when even the thousandth is."""
    if not taken(name):
        return name
    for number in range(1, UNIQUE_TRIES):
        candidate = numbered(name, number)
        if not taken(candidate):
            return candidate
    return None


def part_name(name: str, transfer_id: str) -> str:
    """The hidden temporary a file is written to before it takes its name: `.name.assist-part-<id>`."""
    return f".{name}{PART_MARK}{transfer_id}"


def is_part_file(filename: str) -> bool:
    """Whether a file name is one of the agent's temporaries (what a start sweeps away)."""
    return bool(PART_FILE.match(filename))


def inside(folder: Path, path: Path) -> bool:
    """Whether `path`, symlinks resolved, is directly in `folder` (symlinks resolved too)."""
    real_folder = Path(os.path.realpath(folder))
    return Path(os.path.realpath(path)).parent == real_folder


def default_folder(home: Path) -> Path:
    """~/Downloads when it exists, else the home directory."""
    downloads = home / "Downloads"
    return downloads if downloads.is_dir() else home


def chosen_folder(typed: str, home: Path) -> Path | None:
    """The folder the customer typed at the F prompt (`~` is their home; a relative one is taken from home), if it
    is an existing directory; else None."""
    typed = typed.strip()
    if not typed or "\x00" in typed:
        return None
    path = typed_path(typed, home)
    try:
        return Path(os.path.realpath(path)) if path.is_dir() else None
    except OSError:
        return None


def typed_path(typed: str, home: Path) -> Path:
    """What the customer (or a consultant's request) typed, as a path: `~` and `~/...` are the customer's home, a
    relative path is taken from it."""
    if typed == "~" or typed.startswith(("~/", "~" + os.sep)):
        return home / typed[2:]
    path = Path(os.path.expanduser(typed))
    return path if path.is_absolute() else home / path


def shown_folder(folder: Path, home: Path) -> str:
    """A folder as the customer reads it: `~/Downloads` rather than /home/maria/Downloads."""
    try:
        relative = folder.relative_to(home)
    except ValueError:
        return str(folder)
    return "~" if str(relative) == "." else f"~{os.sep}{relative}"


def human_size(size: int) -> str:
    """12.3 MB, 980 KB, 17 B (powers of 1000, as file managers show them)."""
    for unit, scale in (("GB", 10 ** 9), ("MB", 10 ** 6), ("KB", 10 ** 3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size} B"
