"""hub.prefetch: chunks read on other threads come out in their order, an error where it happened,
and an early stop leaves no reader running."""

import threading
import time

import pytest

from hub.prefetch import prefetched


def chunk(number: int, seconds: float = 0.0):
    def read():
        time.sleep(seconds)
        return [f"{number}.{row}" for row in range(3)]

    return read


def test_items_come_in_the_order_of_the_tasks_however_long_each_takes():
    tasks = [chunk(n, seconds=0.03 if n % 2 == 0 else 0.0) for n in range(6)]
    assert list(prefetched(tasks, readers=2, ahead=3)) == [f"{n}.{row}" for n in range(6) for row in range(3)]


def test_a_failing_task_raises_after_every_item_before_it():
    def broken():
        raise ValueError("chunk 2 is unreadable")

    items = prefetched([chunk(0), chunk(1), broken, chunk(3)], readers=2)
    seen = []
    with pytest.raises(ValueError, match="chunk 2"):
        for item in items:
            seen.append(item)
    assert seen == [f"{n}.{row}" for n in range(2) for row in range(3)]


def test_stopping_early_cancels_the_tasks_not_started_and_leaves_no_reader():
    started = []

    def tracked(number):
        def read():
            started.append(number)
            time.sleep(0.02)
            return [number]

        return read

    before = threading.active_count()
    items = prefetched((tracked(n) for n in range(100)), readers=1, ahead=2)
    assert next(items) == 0
    items.close()
    assert len(started) <= 3, "only the chunks read ahead were started"
    assert threading.active_count() == before
