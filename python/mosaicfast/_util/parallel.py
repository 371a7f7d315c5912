"""Running a function over many items on a pool, yielding results in order."""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["AHEAD_PER_WORKER", "MAX_THREADS", "WorkerProcessError", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

#: Most worker processes of a local Dask cluster (``local:N``), the same bound as the
#: core's rule for threads (:data:`mosaicfast.kernels.MAX_THREADS`, ``rust/pool.rs``),
#: which this layer cannot import; ``tests/kernels/test_rules.py`` holds them equal.
MAX_THREADS = 256

#: Calls submitted ahead of the one being collected, per worker: enough to keep
#: every worker busy, few enough that finished results waiting their turn stay few.
AHEAD_PER_WORKER = 4


def ordered_map(
    function: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    processes: bool = False,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """Yield ``function(item)`` for each item, in order, computed by ``workers`` workers.

    Threads by default (for work that releases the GIL, such as decoding images).
    With ``processes`` (and ``workers`` at least 2), one worker is a thread of this
    process and the other ``workers - 1`` are fresh worker processes (not forks: a
    forked child of a process running the Rust core's threads could deadlock). The
    thread takes items from the start, while the processes start up (importing the
    package costs each about 0.15 s of CPU), and the processes take items once they
    are up; ``function``, ``initializer``, the items and the results must be picklable
    (functions by reference: defined in an importable module), and
    ``initializer(*initargs)`` runs first in each worker process only. A worker process
    that dies fails the calls it had with :class:`WorkerProcessError`.

    At most ``AHEAD_PER_WORKER * workers`` calls run or wait at once, so memory stays
    bounded whatever the number of items. If the consumer stops early (an exception,
    or closing the generator), calls not yet started are cancelled and running ones
    are waited for.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if processes and workers > 1:
        yield from _with_processes(function, list(items), workers - 1, initializer, initargs)
        return
    # Imported here, as subprocess is below: a worker process (_serve) needs neither.
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(
        max_workers=workers,
        thread_name_prefix="mosaicfast",
        initializer=None if processes else initializer,
        initargs=initargs,
    )
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= AHEAD_PER_WORKER * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Turns:
    """Indices of items handed out in order, never more than ``ahead`` past the next
    one to collect, and the results (or exceptions) filed by index until collected."""

    def __init__(self, count: int, ahead: int) -> None:
        self.count, self.ahead = count, ahead
        self.next = self.collected = 0
        self.stopped = False
        self.results: dict[int, tuple[bool, Any]] = {}
        self.changed = threading.Condition()

    def take(self, wait: bool = True) -> int | None:
        """The next index to compute; None when there is none, the consumer stopped, or
        (unless ``wait``) the next one would be too far ahead."""
        with self.changed:
            while wait and not self.stopped and self.next - self.collected >= self.ahead:
                self.changed.wait()
            if self.stopped or self.next >= self.count or self.next - self.collected >= self.ahead:
                return None
            self.next += 1
            return self.next - 1

    def file(self, index: int, ok: bool, value: Any) -> None:
        with self.changed:
            self.results[index] = (ok, value)
            self.changed.notify_all()

    def collect(self, index: int) -> Any:
        """The result of item ``index`` once filed (its exception raised here)."""
        with self.changed:
            while index not in self.results:
                self.changed.wait()
            ok, value = self.results.pop(index)
            self.collected = index + 1
            self.changed.notify_all()
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


#: Calls sent to each worker process at once: the one it runs and the next, so that it
#: never waits for this process to collect a result before it gets more work.
_SENT_PER_PROCESS = 2
#: Bytes of the length that precedes each message between a process and its workers.
_LENGTH = struct.Struct("<Q")


class WorkerProcessError(RuntimeError):
    """A worker process ended before it answered a call (killed, or out of memory)."""


def _with_processes(
    function: Callable[[T], R],
    items: Sequence[T],
    processes: int,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> Iterator[R]:
    """:func:`ordered_map` on a thread of this process and ``processes`` worker processes.

    Each worker process is fed by a thread of this process that sends it calls once it
    has said it is up, so no item waits on a process still starting while the local
    thread could compute it.
    """
    turns = _Turns(len(items), AHEAD_PER_WORKER * (processes + 1))
    workers = [_WorkerProcess(function, initializer, initargs) for _ in range(processes)]

    def compute() -> None:
        while (index := turns.take()) is not None:
            try:
                turns.file(index, True, function(items[index]))
            except BaseException as err:  # handed to the consumer, raised there
                turns.file(index, False, err)

    def feed(worker: _WorkerProcess) -> None:
        """Keep a process busy: one call running, the next one already sent."""
        sent: deque[int] = deque()
        try:
            worker.receive()  # it is up
            while True:
                while len(sent) < _SENT_PER_PROCESS:
                    # Never wait for a turn with calls out: the consumer may wait on them.
                    index = turns.take(wait=not sent)
                    if index is None:
                        break
                    sent.append(index)
                    worker.send(items[index])
                if not sent:
                    return
                ok, value = worker.receive()
                turns.file(sent.popleft(), ok, value)
        except BaseException as err:  # the worker is gone, or a call cannot be sent
            if isinstance(err, (OSError, EOFError)):
                err = WorkerProcessError(f"a worker process ended ({err})")
            for index in sent:
                turns.file(index, False, err)

    threads = [threading.Thread(target=compute, daemon=True)]
    threads += [threading.Thread(target=feed, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(items)):
            yield turns.collect(index)
    finally:
        turns.stop()
        for worker in workers:
            worker.close()  # it ends after the calls it has
        for thread in threads:
            thread.join()
        for worker in workers:
            worker.wait()


class _WorkerProcess:
    """A fresh Python process that runs ``function`` on each item it is sent, in turn.

    It is started with the interpreter running this process (as *spawn* does: never a
    fork of a process running the Rust core's threads), in a session of its own, so
    that Ctrl-C in a terminal reaches only this process, which then stops its workers
    by closing their pipes. Calls and results cross two pipes as pickles, each after its
    length; the first messages give the worker ``sys.path``, then ``function``,
    ``initializer`` and ``initargs`` (by reference: they must be importable), and the
    worker answers when it is up. Unlike :mod:`multiprocessing`, it does not run this
    process's main script again (a console script would import the whole command
    line in every worker) and needs no resource-tracker process.
    """

    def __init__(
        self,
        function: Callable[[Any], Any],
        initializer: Callable[..., None] | None,
        initargs: tuple[Any, ...],
    ) -> None:
        import subprocess

        calls_in, calls_out = os.pipe()
        results_in, results_out = os.pipe()
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        code = (
            f"import sys; sys.path.insert(0, {package_root!r}); "
            f"from mosaicfast._util.parallel import _serve; _serve({calls_in}, {results_out})"
        )
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.DEVNULL,
                pass_fds=(calls_in, results_out),
                start_new_session=True,
            )
        finally:
            os.close(calls_in)
            os.close(results_out)
        self.calls = os.fdopen(calls_out, "wb")
        self.results = os.fdopen(results_in, "rb")
        self.send(sys.path)
        self.send((function, initializer, initargs))

    def send(self, message: object) -> None:
        _write(self.calls, message)

    def receive(self) -> Any:
        return _read(self.results)

    def close(self) -> None:
        """No more calls: the worker exits once it has answered those it has."""
        with contextlib.suppress(OSError):  # it had already gone
            self.calls.close()

    def wait(self) -> None:
        self.process.wait()
        self.results.close()


def _write(pipe: BinaryIO, message: object) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _read(pipe: BinaryIO) -> Any:
    """The next message; EOFError if the other end closed the pipe."""
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("pipe closed")
    (size,) = _LENGTH.unpack(head)
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError("pipe closed in a message")
    return pickle.loads(data)


def _serve(calls_fd: int, results_fd: int) -> None:
    """A worker process's life (see :class:`_WorkerProcess`): run each call sent, answer
    ``(True, result)`` or ``(False, exception)``, exit when the calls pipe closes."""
    # Both pipes are closed on the way out, whichever way that is (no more calls, or the
    # main process gone): an unclosed file is a ResourceWarning at exit.
    with os.fdopen(calls_fd, "rb") as calls, os.fdopen(results_fd, "wb") as results:
        sys.path[:] = _read(calls)
        function, initializer, initargs = _read(calls)
        if initializer is not None:
            initializer(*initargs)
        _write(results, None)
        # Calls are read as they come, so that this process never blocks the sender while
        # it writes a long result (both pipes full would leave each waiting on the other).
        queued: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=_queue_calls, args=(calls, queued), daemon=True).start()
        while (item := queued.get()) is not _NO_MORE:
            try:
                answer: tuple[bool, Any] = (True, function(item))
            except BaseException as err:
                answer = (False, err)
            try:
                _write(results, answer)
            except (pickle.PicklingError, TypeError, AttributeError) as err:
                _write(results, (False, RuntimeError(f"unpicklable result: {err}")))


#: What :func:`_queue_calls` queues when the calls pipe closes.
_NO_MORE = object()


def _queue_calls(calls: BinaryIO, queued: queue.SimpleQueue[Any]) -> None:
    try:
        while True:
            queued.put(_read(calls))
    except (OSError, EOFError):
        queued.put(_NO_MORE)
