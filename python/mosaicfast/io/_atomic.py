"""Files that appear whole or not at all, alone or together with others.

:func:`atomic_path` gives a temporary path beside the destination and renames it into
place when the block succeeds; :func:`atomic_group` holds several such renames back and
makes them one after the other at the end, with Ctrl-C and SIGTERM deferred, so that a
mosaic and its manifest appear together. Used by :mod:`~mosaicfast.io.output`,
:mod:`~mosaicfast.io.video` and :mod:`~mosaicfast.io.manifest`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from .._util.lifetime import interrupts_deferred, pause_point

__all__ = ["atomic_group", "atomic_path"]

#: The outputs of the innermost :func:`atomic_group`, waiting to be put in place.
_group: ContextVar[list[tuple[Path, Path]] | None] = ContextVar("_group", default=None)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    An interrupted or failed write leaves any earlier file at ``path`` untouched
    and no partial file behind. Within an :func:`atomic_group` the replacement
    waits for the group.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file private (0600); give it the permissions a plain
    # open() would have.
    tmp.chmod(0o666 & ~current_umask())
    group = _group.get()
    handed_to_group = False
    try:
        yield tmp
        pause_point("output-written")
        if group is None:
            os.replace(tmp, path)
        else:
            group.append((tmp, path))
            handed_to_group = True
    finally:
        if not handed_to_group:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_group() -> Iterator[None]:
    """The outputs written by :func:`atomic_path` within the block appear together when
    it succeeds, or none does: they are renamed into place one after the other with
    Ctrl-C and SIGTERM held back until the last
    (:func:`~mosaicfast._util.lifetime.interrupts_deferred`).
    """
    pending: list[tuple[Path, Path]] = []
    token = _group.set(pending)
    try:
        yield
        with interrupts_deferred():
            for tmp, path in pending:
                os.replace(tmp, path)
    finally:
        _group.reset(token)
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
