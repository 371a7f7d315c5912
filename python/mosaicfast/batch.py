"""Many mosaics from one library: :func:`build_many`, ``build --cluster TARGET... -o DIR``.

Each target is one task: a worker opens the library read-only from its path (a
folder every worker sees), runs :func:`mosaicfast.build` exactly as a local build
does and writes the mosaic into the output folder (which the workers must see and
write too). The client plans the outputs, skips those already written (so a batch
run again after an interruption carries on) and reports each target as it ends;
a target that fails is reported in one line and the others go on.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._util.cluster import ClusterSpec, Task, connect, ordered_results, say
from ._util.progress import progress_bar
from .api import build
from .errors import MosaicfastError
from .io.output import check_image_path
from .library import Library
from .options import BuildOptions

__all__ = ["BatchResult", "build_many"]

#: build() arguments that build_many sets itself.
_OWN = frozenset({"target", "tiles", "library", "output", "manifest", "progress", "on_skip",
                  "on_wait", "overrides"})  # fmt: skip


@dataclass(frozen=True)
class BatchResult:
    """What became of one target of :func:`build_many`.

    Attributes
    ----------
    target, output : Path
        The target and its mosaic's file.
    status : {"built", "kept", "failed"}
        Built now; kept (the output existed: not built again); or failed.
    error : str or None
        Why it failed, in one line naming the target.
    assignment : numpy.ndarray or None
        For a mosaic built now: ``(rows, cols)`` tile ids (``(m,)`` for adaptive cells),
        as :attr:`Mosaic.assignment`.
    size : tuple of int or None
        The mosaic's width and height in pixels.
    seconds : float
        Time the build took on its worker.
    """

    target: Path
    output: Path
    status: str
    error: str | None = None
    assignment: NDArray[np.int64] | None = None
    size: tuple[int, int] | None = None
    seconds: float = 0.0

    def line(self) -> str:
        """One line for the terminal."""
        if self.status == "failed":
            return f"failed: {self.error}"
        if self.status == "kept":
            return f"kept {self.output} (it exists; delete it to build {self.target} again)"
        assert self.assignment is not None and self.size is not None
        shape = self.assignment.shape
        cells = f"{shape[1]}x{shape[0]}" if len(shape) == 2 else f"{shape[0]:,} adaptive"
        return (
            f"wrote {self.output} ({self.size[0]}x{self.size[1]} px, {cells} cells, "
            f"{len(np.unique(self.assignment)):,} distinct tiles) in {self.seconds:.1f}s"
        )


def build_many(
    targets: Sequence[str | Path],
    library: str | Path,
    folder: str | Path,
    *,
    cluster: ClusterSpec | None = None,
    suffix: str = ".png",
    progress: bool = False,
    on_result: Callable[[BatchResult], None] | None = None,
    **options: Any,
) -> list[BatchResult]:
    """Build a mosaic of each target from one library, on a Dask cluster or here.

    Parameters
    ----------
    targets : sequence of str or Path
        The pictures to reproduce; their file names (without suffix) must differ.
    library : str or Path
        A library made by :func:`mosaicfast.index_library`, at a path every worker sees.
    folder : str or Path
        Where the mosaics are written, as ``STEM + suffix`` (created if missing). A
        mosaic already there is kept and its target not built again.
    cluster : str or distributed.Client, optional
        As for :func:`mosaicfast.index_library`; None builds the targets one after
        the other in this process.
    suffix : str, default ".png"
        The output format, as for ``build(output=...)``.
    progress : bool, default False
        Show a progress bar (and the cluster's dashboard link) on standard error.
    on_result : callable, optional
        Called with each target's :class:`BatchResult` as it ends.
    **options
        Any keyword option of :func:`mosaicfast.build` (``tile_size``, ``assign``,
        ``seed``...). ``threads`` defaults to a worker's thread count on a cluster.
        Each mosaic is the one ``build`` makes with the same options.

    Returns
    -------
    list of BatchResult
        In the order of ``targets``.

    Raises
    ------
    MosaicfastError
        No library at ``library``, two targets with one file name, an unknown format.
    TypeError
        An option ``build`` does not take.
    """
    known = set(inspect.signature(build).parameters) | BuildOptions.names()
    unknown = set(options) - known | (set(options) & _OWN)
    if unknown:
        raise TypeError(f"build_many() got options it cannot pass on: {sorted(unknown)}")
    given = dict(options)  # the options of the mosaics, checked once, here
    named = {name: given.pop(name) for name in BuildOptions.names() & set(given)}
    options = {**given, "options": BuildOptions.of(given.pop("options", None), **named)}
    # Absolute paths: workers do not share the client's working folder.
    targets = [Path(t).absolute() for t in targets]
    library, folder = Path(library).absolute(), Path(folder).absolute()
    Library.open(library).close()  # a clear error now rather than one per target
    outputs = _outputs(targets, folder, suffix)
    results: list[BatchResult] = []
    todo: list[int] = []
    for i, (target, output) in enumerate(zip(targets, outputs, strict=True)):
        if output.exists():
            results.append(BatchResult(target, output, "kept"))
        else:
            todo.append(i)
    with progress_bar(len(targets), "build", "mosaic", enabled=progress) as bar:
        bar.update(len(results))
        for result in results:
            if on_result is not None:
                on_result(result)
        calls = [(targets[i], library, outputs[i], options) for i in todo]
        for result in _run(calls, cluster, progress):
            results.append(result)
            bar.update()
            if on_result is not None:
                on_result(result)
    order = {t: i for i, t in enumerate(targets)}
    return sorted(results, key=lambda r: order[r.target])


def _outputs(targets: Sequence[Path], folder: Path, suffix: str) -> list[Path]:
    """``folder / (stem + suffix)`` per target; MosaicfastError if two would be the same."""
    outputs = [folder / (t.stem + suffix) for t in targets]
    seen: dict[Path, Path] = {}
    for target, output in zip(targets, outputs, strict=True):
        if output in seen:
            raise MosaicfastError(f"{target} and {seen[output]} would both be written to {output}")
        seen[output] = target
    if outputs:
        check_image_path(outputs[0])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MosaicfastError(f"{folder}: cannot create the folder ({err})") from None
    return outputs


def _run(
    calls: list[tuple[Path, Path, Path, dict[str, Any]]],
    cluster: ClusterSpec | None,
    progress: bool,
) -> Iterator[BatchResult]:
    if cluster is None:
        yield from (_build_one(*call) for call in calls)
        return
    with connect(cluster, say=say if progress else None) as client:
        tasks = [Task("build", _build_on_worker, call) for call in calls]
        for index, result in ordered_results(client, tasks):
            if isinstance(result, BaseException):
                target, _, output, _ = calls[index]
                reason = f"{target}: the Dask task failed ({type(result).__name__}: {result})"
                result = BatchResult(target, output, "failed", reason)
            yield result


def _build_on_worker(
    target: Path, library: Path, output: Path, options: dict[str, Any]
) -> BatchResult:
    """On a worker: :func:`_build_one` with as many threads as the worker has."""
    from distributed import get_worker

    chosen: BuildOptions = options["options"]
    if chosen.threads is None:
        threads = get_worker().state.nthreads
        options = {**options, "options": dataclasses.replace(chosen, threads=threads)}
    return _build_one(target, library, output, options)


def _build_one(target: Path, library: Path, output: Path, options: dict[str, Any]) -> BatchResult:
    """Build one mosaic and write it to ``output``; a failure is returned, not raised."""
    start = time.perf_counter()
    try:
        mosaic = build(target, library=library, output=output, **options)
    except MosaicfastError as err:
        return BatchResult(target, output, "failed", str(err))
    seconds = time.perf_counter() - start
    return BatchResult(
        target, output, "built", None, mosaic.assignment, mosaic.plan.output_size, seconds
    )
