"""Reading ahead on a thread of its own: while the caller works on one chunk of a source, the next
chunks are read. It pays when reading waits outside the GIL (a database building a chunk in C):
the reader then runs on the other core.

The caller sees the items of the chunks in order, and an error of the reader at the point where
it happened: after every item read before it. Closing the caller's iterator early stops the reader
and closes the chunk iterator on the reader's thread (its connections are that thread's).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_END = object()
_WAIT_S = 0.1  # how often a reader blocked on a full hand-over looks whether the caller stopped


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(chunks: Iterator[Iterable[Item]], depth: int = 2, name: str = "read-ahead") -> Iterator[Item]:
    """The items of `chunks`, whose chunks are made on another thread, at most `depth` ahead."""
    handoff: queue.Queue = queue.Queue(depth)
    stopped = threading.Event()

    def hand_over(thing) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(thing, timeout=_WAIT_S)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    return
            hand_over(_END)
        except BaseException as exc:  # the caller raises it, in its place among the items
            hand_over(_Failed(exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while True:
            chunk = handoff.get()
            if chunk is _END:
                return
            if type(chunk) is _Failed:
                raise chunk.error
            yield from chunk
    finally:
        stopped.set()
        reader.join()
