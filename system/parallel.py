"""Layers moved several at once (pull, push): the first failure stops the others."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from bb.errors import Stopped

# layers moved at once (containers/image's default for a copy)
PARALLEL_LAYERS = 3

T = TypeVar("T")


def at_once(tasks: Sequence[Callable[[threading.Event], T]]) -> list[T]:
    """Run each task, up to PARALLEL_LAYERS at once; return their results in order.

    Each task is given an event to check now and then: once it is set (another task failed,
    or bb was interrupted) the task should give up, raising Stopped. The first failure is
    raised once the others have stopped; tasks not begun by then are not run."""
    stop = threading.Event()
    if len(tasks) < 2:
        return [task(stop) for task in tasks]
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(task: Callable[[threading.Event], T]) -> T:
        if stop.is_set():
            raise Stopped("stopped")
        try:
            return task(stop)
        except BaseException as failure:
            # stop the others at once, here: a worker takes the next task as soon as it is free
            with lock:
                if not stop.is_set():
                    failures.append(failure)
                    stop.set()
            raise

    with concurrent.futures.ThreadPoolExecutor(PARALLEL_LAYERS) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        try:
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        finally:
            # SIGINT here stops the rest too; the pool's end waits for those under way
            stop.set()
            for future in futures:
                future.cancel()
    if failures:
        raise failures[0]
    return [future.result() for future in futures]
