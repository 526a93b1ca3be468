"""Shared streams generated once per seed run and read back after: the population stream feeds four
registers and the market-entity stream three, and regenerating one costs far more than reading
it from a spill file (at full scale 3.2 M people: minutes against seconds).

Outside `shared_streams()` a stream is simply generated, as before; inside it, the first reader
generates and spills it, later readers (same name and key) replay the very same items.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Items pickled together: pickle shares the repeated key strings within one dump.
BATCH_ITEMS = 2_000

_spill_dir: Path | None = None
_complete: dict[tuple, Path] = {}


@contextmanager
def shared_streams() -> Iterator[None]:
    """Within the block, `replayed` streams are spilled on first read and replayed after; the spill
    files are removed on leaving it."""
    global _spill_dir
    if _spill_dir is not None:  # nested: the outer block owns the files
        yield
        return
    _spill_dir = Path(tempfile.mkdtemp(prefix="hub-seed-streams-"))
    try:
        yield
    finally:
        shutil.rmtree(_spill_dir, ignore_errors=True)
        _spill_dir = None
        _complete.clear()


def replayed(name: str, key: tuple, make: Callable[[], Iterable]) -> Iterator:
    """The items of `make()`; inside `shared_streams()` generated once per (name, key)."""
    if _spill_dir is None:
        yield from make()
        return
    path = _complete.get((name, key))
    if path is not None:
        yield from _read(path)
        return
    yield from _spill(name, key, make(), _spill_dir / f"{name}-{len(_complete)}-{id(make):x}.pickle")


def _read(path: Path) -> Iterator:
    with path.open("rb") as spill:
        while True:
            try:
                batch = pickle.load(spill)
            except EOFError:
                return
            yield from batch


def _spill(name: str, key: tuple, items: Iterable, path: Path) -> Iterator:
    # Each batch is pickled before its items are handed out, so a reader changing an item cannot
    # change what later readers get; a stream not read to its end is dropped, never replayed.
    done = False
    try:
        with path.open("wb") as spill:
            batch: list = []
            for item in items:
                batch.append(item)
                if len(batch) >= BATCH_ITEMS:
                    pickle.dump(batch, spill, protocol=pickle.HIGHEST_PROTOCOL)
                    yield from batch
                    batch = []
            pickle.dump(batch, spill, protocol=pickle.HIGHEST_PROTOCOL)
            yield from batch
        done = True
        _complete[(name, key)] = path
    finally:
        if not done:
            path.unlink(missing_ok=True)
