"""Reading ahead on threads of their own: while the caller works on one chunk of a source, the next
chunks are read. It pays when reading runs outside the GIL (a database building a chunk in C): the
readers then use the other core.

Each task reads one chunk; the caller sees the items of the chunks in the order of the tasks, and a
task's error at the point where it happened, after every item before it. Closing the caller's
iterator early cancels the tasks not started and waits for those running (their connections are
their threads' own).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")


def prefetched(
    tasks: Iterable[Callable[[], Iterable[Item]]], readers: int = 1, ahead: int = 2, name: str = "read-ahead"
) -> Iterator[Item]:
    """The items of each task's chunk, in order; `readers` threads run the tasks, at most `ahead` at once."""
    pool = ThreadPoolExecutor(readers, thread_name_prefix=name)
    running: deque = deque()
    try:
        for task in tasks:
            running.append(pool.submit(task))
            if len(running) >= ahead:
                yield from running.popleft().result()
        while running:
            yield from running.popleft().result()
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True)
