"""Option fields: each carries its default, its range or choices and its help once (a
:class:`Spec` in ``field.metadata``), from which the checks, the command line's flags
and the docs are made (see :mod:`mosaicfast.options`, which holds the options of
``build`` and ``index``; ``io.video.SpliceOptions`` uses them too)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import MosaicfastError

#: The metadata of a field that holds a whole group of options (its own options
#: dataclass, made by the field's ``default_factory``): ``field(default_factory=...,
#: metadata=GROUP)``.
GROUP: Mapping[str, bool] = MappingProxyType({"group": True})

__all__ = [
    "GROUP",
    "Spec",
    "check_fields",
    "choice",
    "flag",
    "integer",
    "option",
    "real",
    "specs",
    "text",
]


@dataclass(frozen=True)
class Spec:
    """What the command line and the checks need to know of one option.

    ``help`` names other options as ``{name}``: the command line writes them as its
    flags, the Python documentation as the parameter names. ``low``/``high`` bound
    numbers (``open_low``: ``low`` itself is refused); ``choices`` lists the values
    of a choice; ``metavar`` is the word ``--help`` shows for the value; ``rule``, when
    given, is the check itself, owned by a lower layer (``low``/``high`` then only
    describe it); ``names``, when given, are the command line's flags for it (e.g. an
    on/off pair and an older name) instead of ``--name``.
    """

    help: str
    kind: type = str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    rule: Callable[[Any], None] | None = None
    names: tuple[str, ...] = ()

    def check(self, name: str, value: Any) -> None:
        """Raise MosaicfastError, naming ``name``, if ``value`` breaks this option's rule."""
        if self.rule is not None:  # a rule owned elsewhere (the core's), not repeated here
            self.rule(value)
            return
        if self.choices and value not in self.choices:
            raise MosaicfastError(
                f"{name} must be one of {', '.join(self.choices)}, got {value!r}",
                parameters=(name,),
            )
        if self.kind is bool and not isinstance(value, bool):
            raise MosaicfastError(
                f"{name} must be True or False, got {value!r}", parameters=(name,)
            )
        if self.kind in (int, float):
            self._check_number(name, value)

    def _check_number(self, name: str, value: Any) -> None:
        wanted = numbers.Integral if self.kind is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted) or not math.isfinite(value):
            what = "an integer" if self.kind is int else "a finite number"
            raise MosaicfastError(f"{name} must be {what}, got {value!r}", parameters=(name,))
        low, high = self.low, self.high
        below = low is not None and (value <= low if self.open_low else value < low)
        if below or (high is not None and value > high):
            raise MosaicfastError(
                f"{name} must be {self.range_text()}, got {value}", parameters=(name,)
            )

    def range_text(self) -> str:
        """The range in words: ``from 1 to 16``, ``at least 1``, ``above 0``."""
        if self.low is not None and self.high is not None:
            return f"from {self.low:g} to {self.high:g}"
        if self.low is not None:
            return f"above {self.low:g}" if self.open_low else f"at least {self.low:g}"
        return f"at most {self.high:g}"


def option(default: Any, spec: Spec) -> Any:
    """A dataclass field with its :class:`Spec`."""
    return field(default=default, metadata={"spec": spec})


def integer(
    default: int | None,
    help: str,
    *,
    low: int | None = None,
    high: int | None = None,
    metavar: str | None = None,
) -> Any:
    """An integer option, ``None`` meaning "computed" when that is its default."""
    return option(default, Spec(help, int, low, high, metavar=metavar))


def real(
    default: float | None,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    metavar: str | None = None,
) -> Any:
    """A real-number option."""
    return option(default, Spec(help, float, low, high, open_low, metavar=metavar))


def choice(default: str, choices: tuple[str, ...], help: str) -> Any:
    """An option taking one of ``choices``."""
    return option(default, Spec(help, str, choices=choices))


def flag(help: str, *, default: bool = False, names: tuple[str, ...] = ()) -> Any:
    """A yes/no option (off by default); ``names``: its flags, e.g. ``("--x/--no-x",)``."""
    return option(default, Spec(help, bool, names=names))


def text(help: str, *, metavar: str) -> Any:
    """A free-text option parsed where it is used (e.g. a print size)."""
    return option(None, Spec(help, str, metavar=metavar))


def specs(options: type) -> Iterator[tuple[dataclasses.Field[Any], Spec]]:
    """The fields of the options dataclass ``options`` with their specs, those of its
    group fields (:data:`GROUP`) included, in order."""
    for item in dataclasses.fields(options):
        if "spec" in item.metadata:
            yield item, item.metadata["spec"]
        elif item.metadata.get("group"):
            yield from specs(item.default_factory)  # type: ignore[arg-type]


def check_fields(options: Any) -> None:
    """Check every field of the options object ``options`` against its spec (``None``
    passes where it is the default: the value is then computed or not set); groups are
    checked when they are made."""
    for item in dataclasses.fields(options):
        if "spec" in item.metadata:
            value = getattr(options, item.name)
            if not (value is None and item.default is None):
                item.metadata["spec"].check(item.name, value)
