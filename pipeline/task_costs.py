"""What each resource's `connect` and `load` took the last time they ran, so that the next night
starts the longest work first.

A night's crons start the batch DAGs within the hour (each domain at its minute; `bench/e2e.py` starts
them all at once), with more tasks than the scheduler has slots, and the scheduler hands the slots out
by priority weight. With Airflow's own weights (every connect alike) the order was the DAGs': at full
scale the 516-s connect of electricity_readings got its slot 3 min into the night, behind ninety
connects of seconds each, and its load ended the night alone on one core (1,015.8 s; longest first,
899.0 and 900.3 s on the same seed). The ingest DAG file weighs each task by the work left on its
resource's chain, from these figures (the longest-processing-time-first rule of list scheduling).

Each task notes its seconds in a file of its own (`var/task_seconds/<resource>.<step>`): tasks run
side by side, and a file per task needs no lock. The DAG file reads them while it is parsed (files
only, as a parse may). A figure changes a weight, and so makes a new version of its DAG, at the DAG
processor's next parse, mid-night too: a figure is therefore kept until a run takes more than twice
or less than half of it and differs from it by more than a minute (a night's jitter under load, 516 s
one night and 636 s the next, or 5 s and 12 s for a small table, is not a change of size; a first
load followed by nightly increments is), and a weight is a log-scale bucket, ×1.78 a step.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

from hub.files import write_atomic
from hub.settings import get_settings

STEPS = ("connect", "load")
BUCKETS_PER_DECADE = 4
# A figure is replaced by a run that took more than SETTLED× or less than 1/SETTLED of it, and differs
# from it by more than SETTLED_S: small tasks' seconds double and halve with what runs beside them.
SETTLED, SETTLED_S = 2.0, 60.0


def folder() -> Path:
    return get_settings().var_dir / "task_seconds"


def _kept(resource_id: str, step: str) -> float | None:
    """The figure kept for the step; None if it never ran (or someone mangled the file)."""
    with contextlib.suppress(OSError, ValueError):
        return float((folder() / f"{resource_id}.{step}").read_text())
    return None


def note(resource_id: str, step: str, seconds: float) -> None:
    """Record what a step that succeeded took (a failed one's seconds say nothing of its work),
    unless it is within a factor SETTLED or SETTLED_S seconds of the figure kept."""
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}: one of {', '.join(STEPS)}")
    kept = _kept(resource_id, step)
    if kept is None or (abs(seconds - kept) > SETTLED_S and not kept / SETTLED <= seconds <= kept * SETTLED):
        write_atomic(folder() / f"{resource_id}.{step}", f"{seconds:.1f}\n".encode())


def last_seconds(resource_ids) -> dict[tuple[str, str], float]:
    """(resource, step) → the seconds its last successful run took, for the steps that ran before."""
    figures = {(rid, step): _kept(rid, step) for rid in resource_ids for step in STEPS}
    return {key: seconds for key, seconds in figures.items() if seconds is not None}


def weight(seconds: float) -> int:
    """1 for nothing to do, one more per ×10^(1/4) of seconds: 7 s → 5, 178 s → 10, 694 s → 12."""
    return 1 + round(BUCKETS_PER_DECADE * math.log10(1 + max(seconds, 0.0)))


def priority_weights(resource_ids) -> dict[str, tuple[int, int]]:
    """Resource → (its connect's weight, its load's weight), absolute: a connect weighs the seconds
    of its connect and its load together (the chain it starts), a load its own. A resource that never
    ran counts as the longest that did (it may be large: starting it early costs little). Empty
    when nothing ran before (a first night): the DAGs keep Airflow's own weights."""
    resource_ids = list(resource_ids)
    known = last_seconds(resource_ids)
    if not known:
        return {}
    longest = {step: max((s for (_, st), s in known.items() if st == step), default=0.0) for step in STEPS}

    def seconds(resource_id: str, step: str) -> float:
        return known.get((resource_id, step), longest[step])

    return {
        rid: (weight(seconds(rid, "connect") + seconds(rid, "load")), weight(seconds(rid, "load")))
        for rid in resource_ids
    }
