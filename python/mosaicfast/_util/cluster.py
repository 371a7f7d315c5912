"""The client's side of a Dask cluster: connecting (or starting and stopping a local
cluster), and running tasks with their results taken in order."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import MosaicfastError
from .parallel import AHEAD_PER_WORKER, MAX_THREADS

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = [
    "CONNECT_TIMEOUT",
    "ClusterSpec",
    "Task",
    "connect",
    "distributed_module",
    "local_workers",
    "ordered_results",
    "say",
]

#: Seconds to wait for a remote scheduler to answer.
CONNECT_TIMEOUT = 10

#: What ``cluster=`` takes: a scheduler address, ``"local"`` or ``"local:N"``, or a
#: ``distributed.Client`` already connected.
ClusterSpec = Any


def distributed_module() -> ModuleType:
    """The ``distributed`` package, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise MosaicfastError(
            "--cluster needs Dask's distributed scheduler: pip install 'mosaicfast[distributed]'"
        ) from None
    return distributed


def local_workers(spec: str) -> int | None:
    """The worker count of ``local`` (one per core) or ``local:N``; None for an address."""
    name, _, count = spec.partition(":")
    if name != "local":
        return None
    if not count:
        return os.cpu_count() or 1
    if not count.isdigit() or not 1 <= int(count) <= MAX_THREADS:
        raise MosaicfastError(f"--cluster {spec}: local:N needs N from 1 to {MAX_THREADS}")
    return int(count)


@contextmanager
def connect(cluster: ClusterSpec, *, say: Callable[[str], None] | None = None) -> Iterator[Client]:
    """A Dask client for ``cluster``, closed (with a cluster it started) at the end.

    ``"local"`` or ``"local:N"`` starts a ``distributed.LocalCluster`` of N single-thread
    worker processes (one per core by default) on the loopback interface; any other
    string is a scheduler's address (``tcp://host:8786``); a ``distributed.Client`` is
    used as it is and left open. ``say`` is told the dashboard's address.
    """
    distributed = distributed_module()
    if isinstance(cluster, distributed.Client):
        yield cluster
        return
    spec = str(cluster)
    workers = local_workers(spec)
    if workers is not None:
        local = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        )
        with local, distributed.Client(local) as client:
            _announce(client, say, dashboard=_has_bokeh())
            yield client
        return
    try:
        client = distributed.Client(spec, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError) as err:
        raise MosaicfastError(
            f"--cluster {spec}: cannot reach the Dask scheduler ({err})"
        ) from None
    with client:
        _announce(client, say, dashboard=True)
        yield client


def _has_bokeh() -> bool:
    """Whether a local cluster can serve Dask's dashboard (it needs bokeh)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


def _announce(client: Client, say: Callable[[str], None] | None, *, dashboard: bool) -> None:
    """Say the scheduler's address, its workers and (if it serves one) the dashboard's."""
    if say is None:
        return
    info = client.scheduler_info()
    workers = len(info.get("workers", {}))
    text = f"Dask cluster {client.scheduler.address} ({workers} worker{'s' * (workers != 1)})"
    if dashboard and "dashboard" in info.get("services", {}):
        text += f", dashboard {client.dashboard_link}"
    say(text)


def say(message: str) -> None:
    """One line on standard error, clear of progress bars."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


class Task(NamedTuple):
    """A call to run on a worker; ``name`` starts its Dask key (the dashboard groups by it)."""

    name: str
    function: Callable[..., Any]
    args: tuple[Any, ...]


_runs = itertools.count()


def ordered_results(client: Client, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, result or exception)`` of every task, in task order.

    At most ``AHEAD_PER_WORKER`` tasks per worker are submitted and not yet yielded.
    A result that finishes before its turn waits on its worker, not here, so the
    client holds one result at a time. A worker that dies mid-task has its task run
    again by Dask (up to ``distributed.scheduler.allowed-failures`` times); a task
    that fails for good yields its exception, and the run goes on. Tasks not yet
    yielded when the caller stops are cancelled.
    """
    distributed = distributed_module()
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    ahead = AHEAD_PER_WORKER * workers
    run = f"{os.getpid()}-{next(_runs)}"
    futures: dict[int, Future] = {}
    indices: dict[str, int] = {}
    done: set[int] = set()
    running = distributed.as_completed()
    try:
        for wanted in range(len(tasks)):
            while len(futures) < len(tasks) and len(futures) - wanted < ahead:
                index = len(futures)
                name, function, args = tasks[index]
                futures[index] = client.submit(
                    function, *args, key=f"mosaicfast-{name}-{run}-{index}"
                )
                indices[futures[index].key] = index
                running.add(futures[index])
            while wanted not in done:
                done.add(indices[next(running).key])
            future = futures[wanted]
            try:
                result = future.result()
            except Exception as err:  # the caller reports it per file; the run goes on
                result = err
            future.release()
            yield wanted, result
    finally:
        for index, future in futures.items():
            if index not in done:
                future.cancel()
