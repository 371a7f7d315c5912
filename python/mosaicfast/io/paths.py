"""File names and files as the system has them, whatever a user (or an attacker) made.

On Linux a file name is bytes: Python turns the bytes that are not UTF-8 into lone
surrogates (``os.fsdecode``), which neither SQLite nor a terminal accept. This
module keeps such names losslessly in the catalog (:func:`to_catalog`,
:func:`from_catalog`), shows any text on one line with control characters and
undecodable bytes escaped (:func:`printable`), and opens files so that a FIFO or
a device named like a photo is refused instead of read for ever
(:func:`read_regular_file`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = [
    "from_catalog",
    "non_regular_reason",
    "os_reason",
    "printable",
    "read_regular_file",
    "show_path",
    "to_catalog",
]

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# os.fsdecode maps an undecodable byte b to the lone surrogate U+DC00 + b.
_SURROGATE_BYTES = range(0xDC80, 0xDD00)

_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def printable(text: str) -> str:
    """``text`` on one line, every character a terminal shows as itself.

    Backslashes are doubled; newlines, tabs and other control or invisible
    characters become ``\\n``, ``\\t``, ``\\xNN``, ``\\uNNNN``; a byte of a file
    name that is not UTF-8 becomes ``\\xNN`` (its value). The result is plain
    printable text and tells the original apart from any other name.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code in _SURROGATE_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def show_path(path: str | bytes | os.PathLike[str]) -> str:
    """A path as :func:`printable` text."""
    return printable(os.fsdecode(path))


def to_catalog(path: str | Path) -> str | bytes:
    """A path as the catalog stores it: text when it is UTF-8, else its raw bytes."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def from_catalog(value: str | bytes) -> str:
    """The path the catalog value :func:`to_catalog` made stands for."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def non_regular_reason(mode: int) -> str | None:
    """Why a file of ``mode`` (``st_mode``) cannot be read as a photo; None if regular."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in _KINDS:
        if test(mode):
            return f"not a regular file ({kind})"
    return "not a regular file"


def os_reason(exc: OSError) -> str:
    """Short human reason for an OS error."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def read_regular_file(path: str | Path, limit: int) -> bytes | None:
    """The contents of a regular file of at most ``limit`` bytes (None if larger).

    The file is opened without blocking and checked on the open descriptor, so a
    named pipe or a device swapped in after a scan can neither hang the reader nor
    feed it for ever.

    Raises
    ------
    OSError
        If the file cannot be opened or read, or is not a regular file (``errno``
        ``EINVAL``, the reason as ``strerror``).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(fd)
        reason = non_regular_reason(status.st_mode)
        if reason is not None:
            raise OSError(errno.EINVAL, reason)
        if status.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
        return data if len(data) <= limit else None
    finally:
        os.close(fd)
