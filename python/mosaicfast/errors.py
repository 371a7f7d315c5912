"""Exceptions raised by mosaicfast."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ImageReadError", "MosaicfastError"]


class MosaicfastError(ValueError):
    """A request mosaicfast cannot carry out: bad input, bad option or impossible job.

    The message is written for the user and names the file or option at fault;
    options by their parameter names (``cols``), listed in ``parameters``, which the
    command line writes as its flags (``--cols``).
    """

    def __init__(self, message: str, *, parameters: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.parameters = parameters


class ImageReadError(MosaicfastError):
    """An image file that cannot be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
