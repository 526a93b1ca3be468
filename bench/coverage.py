"""Benchmark: 1,000,000 evidence rows → 10,000 ResourceFacts (SQLite) → the coverage document.

Run from the repo root:  .venv/bin/python bench/coverage.py
Goal: the whole coverage computation takes < 1 s on SQLite for 10,000 resources.
Measured under two index layouts of the evidence table, because the layout decides the result:
the aggregate is index-only (and meets the goal) only when the index also holds `rows`.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.coverage import (  # noqa: E402  (after the sys.path line on purpose)
    DEFAULT_MAX_AGE,
    CoveragePolicy,
    ResourceFacts,
    compute_coverage,
)

RESOURCES = 10_000
EVIDENCE_ROWS = 1_000_000
REPEATS = 5
GOAL_SECONDS = 1.0
SEED = 20260630
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
TARGET_DATE = date(2026, 12, 31)

DEPARTMENTS = [f"区部门{n:02d}" for n in range(18)] + [f"镇街{n:02d}" for n in range(10)]
DOMAINS = ("population", "legal_entity", "utility", "gis", "video", "iot")
SHARING_TYPES = ("有条件共享", "无条件共享", "不予共享")
CYCLES = ("每日",) * 5 + ("实时",) * 2 + ("每周", "每月", "每季度", "半年", "每年")
KINDS = ("produced",) * 8 + ("landing",) * 6 + ("landing_failed",) + ("quality",) * 5
CRITICAL_RULES = ("resident_id", "uscc", "not_future_date")


# --- the aggregate the store runs: evidence → one row of facts per resource ---------------------

FACTS_SQL = """
WITH per_resource AS (
    SELECT resource_id,
           MAX(CASE WHEN kind = 'produced' AND rows > 0 THEN at END) AS produced_at,
           MAX(CASE WHEN kind = 'landing' THEN at END)               AS last_landing_at,
           COALESCE(SUM(CASE WHEN kind = 'landing' THEN rows END), 0) AS landed_rows,
           MAX(CASE WHEN kind = 'quality' THEN at END)               AS quality_at
    FROM evidence
    GROUP BY resource_id
)
SELECT p.resource_id, p.produced_at, p.last_landing_at, p.landed_rows, p.quality_at,
       q.pass_rate, q.failed_critical
FROM per_resource AS p
LEFT JOIN evidence AS q
       ON q.resource_id = p.resource_id AND q.kind = 'quality' AND q.at = p.quality_at
"""


def _parse_at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def load_facts(connection: sqlite3.Connection, catalogue: dict[str, dict]) -> list[ResourceFacts]:
    """Reduce the evidence table to ResourceFacts: one GROUP BY plus the latest quality row."""
    evidence: dict[str, tuple] = {}
    for row in connection.execute(FACTS_SQL):
        evidence.setdefault(row[0], row)  # two quality runs at the same instant: keep one
    facts = []
    for resource_id, entry in catalogue.items():
        row = evidence.get(resource_id)
        if row is None:
            row = (resource_id, None, None, 0, None, None, None)
        _, produced_at, landing_at, landed_rows, quality_at, pass_rate, failed = row
        facts.append(
            ResourceFacts(
                **entry,
                produced_at=_parse_at(produced_at),
                last_landing_at=_parse_at(landing_at),
                landed_rows=landed_rows,
                quality_at=_parse_at(quality_at),
                quality_pass_rate=pass_rate,
                quality_failed_critical=tuple(failed.split(",")) if failed else (),
            )
        )
    return facts


# --- synthetic catalogue and evidence ------------------------------------------------------------


def synthetic_catalogue(rng: random.Random) -> dict[str, dict]:
    """Catalogue metadata per resource (what the store reads from its resource table)."""
    catalogue = {}
    for n in range(RESOURCES):
        department = n % len(DEPARTMENTS)
        catalogue[f"res_{n:05d}"] = dict(
            resource_id=f"res_{n:05d}",
            code=f"{n % 3 + 1}01{n % 100:03d}/{n:06d}",
            name=f"资源{n:05d}",
            department=DEPARTMENTS[department],
            department_id=f"dept_{department:02d}",
            domain=DOMAINS[n % len(DOMAINS)],
            sharing_type=SHARING_TYPES[n % 7 % 3],
            priority=rng.randint(1, 5),
            update_cycle=None if rng.random() < 0.03 else rng.choice(CYCLES),
            bound=rng.random() < 0.85,
            grace_hours=48.0 if rng.random() < 0.02 else None,
            quality_threshold=0.9 if rng.random() < 0.05 else None,
        )
    return catalogue


def _profiles(rng: random.Random, catalogue: dict[str, dict]) -> list[tuple[str, float, bool, bool]]:
    """Per bound resource: (id, newest evidence age in s, lands at all, quality is poor)."""
    profiles = []
    for resource_id, entry in catalogue.items():
        if not entry["bound"] or rng.random() < 0.03:  # unbound, or bound but never produced
            continue
        max_age = DEFAULT_MAX_AGE.get(entry["update_cycle"], timedelta(hours=36))
        # Most resources keep to their cycle; about one in five runs late.
        lateness = rng.uniform(0.0, 0.9) if rng.random() < 0.8 else rng.uniform(1.0, 3.0)
        lands = rng.random() > 0.05
        poor = rng.random() < 0.08
        profiles.append((resource_id, lateness * max_age.total_seconds(), lands, poor))
    return profiles


def _latest_rows(profile: tuple, now: float):
    """The newest evidence of one resource: it sets produced / landed / quality "at"."""
    resource_id, newest_age, lands, poor = profile
    landed = now - newest_age
    yield resource_id, "produced", _iso(landed - 600), 1000, None, ""
    if lands:
        yield resource_id, "landing", _iso(landed), 1000, None, ""
        yield resource_id, "quality", _iso(landed + 60), 1000, 0.9 if poor else 0.99, ""


def _older_row(rng: random.Random, profile: tuple, now: float) -> tuple:
    resource_id, newest_age, lands, poor = profile
    kind = rng.choice(KINDS)
    if kind in ("landing", "quality") and not lands:
        kind = "landing_failed"
    at = _iso(now - newest_age - 120 - rng.random() * 120 * 86400.0)
    if kind == "quality":
        pass_rate = rng.uniform(0.80, 0.96) if poor else rng.uniform(0.96, 1.0)
        return resource_id, kind, at, rng.randint(100, 5000), round(pass_rate, 4), ""
    rows = 0 if rng.random() < 0.05 else rng.randint(1, 5000)
    return resource_id, kind, at, rows, None, ""


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="seconds")


def _evidence_rows(rng: random.Random, profiles: list, count: int):
    """`count` evidence rows: each resource's newest rows, then older ones interleaved at random."""
    now = AS_OF.timestamp()
    emitted = 0
    for profile in profiles:
        for row in _latest_rows(profile, now):
            # A critical rule failing in the latest run, for a few resources.
            if row[1] == "quality" and rng.random() < 0.01:
                row = row[:5] + (rng.choice(CRITICAL_RULES),)
            emitted += 1
            yield row
    for _ in range(count - emitted):
        yield _older_row(rng, profiles[rng.randrange(len(profiles))], now)


def build_database(path: Path, rng: random.Random, catalogue: dict[str, dict]) -> float:
    """Create and fill the evidence table; returns the seconds spent inserting."""
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE evidence (id INTEGER PRIMARY KEY, resource_id TEXT NOT NULL, kind TEXT NOT NULL,"
        " at TEXT NOT NULL, rows INTEGER NOT NULL, pass_rate REAL, failed_critical TEXT NOT NULL)"
    )
    started = time.perf_counter()
    rows = _evidence_rows(rng, _profiles(rng, catalogue), EVIDENCE_ROWS)
    with connection:
        connection.executemany(
            "INSERT INTO evidence (resource_id, kind, at, rows, pass_rate, failed_critical) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    connection.close()
    return time.perf_counter() - started


# Two index layouts. With only (resource_id, kind, at) SQLite walks that index in GROUP BY order
# and fetches `rows` from the table row by row; adding `rows` makes the aggregate index-only.
INDEX_VARIANTS = (
    ("index (resource_id, kind, at)", "CREATE INDEX ix_evidence_resource_kind_at ON evidence (resource_id, kind, at)"),
    (
        "covering index (resource_id, kind, at, rows)",
        "CREATE INDEX ix_evidence_facts ON evidence (resource_id, kind, at, rows)",
    ),
)


def add_index(path: Path, ddl: str) -> float:
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    with connection:
        connection.execute(ddl)
    connection.close()
    return time.perf_counter() - started


# --- measurement -----------------------------------------------------------------------------------


def measure(path: Path, catalogue: dict[str, dict]) -> tuple[float, float, dict]:
    """One end-to-end computation: (a) seconds SQL → facts, (b) seconds for compute_coverage."""
    connection = sqlite3.connect(path)
    try:
        started = time.perf_counter()
        facts = load_facts(connection, catalogue)
        loaded = time.perf_counter()
        document = compute_coverage(facts, AS_OF, CoveragePolicy.default(), 0.7, TARGET_DATE, [])
        computed = time.perf_counter()
    finally:
        connection.close()
    return loaded - started, computed - loaded, document


def report(label: str, runs: list[tuple[float, float, dict]]) -> float:
    """Print every run and the medians; returns the median total."""
    print(f"\n{label}")
    for number, (sql_s, engine_s, _) in enumerate(runs, 1):
        print(
            f"  run {number}: (a) SQL → facts {sql_s:.3f} s   (b) compute_coverage {engine_s:.3f} s"
            f"   total {sql_s + engine_s:.3f} s"
        )
    sql_median = statistics.median(run[0] for run in runs)
    engine_median = statistics.median(run[1] for run in runs)
    total_median = statistics.median(run[0] + run[1] for run in runs)
    print(f"  median of {len(runs)}: (a) {sql_median:.3f} s   (b) {engine_median:.3f} s   total {total_median:.3f} s")
    verdict = "met" if total_median < GOAL_SECONDS else "NOT met"
    print(f"  goal < {GOAL_SECONDS:.0f} s on SQLite: {verdict}")
    return total_median


def describe(document: dict) -> None:
    # "failing rule <name>" counted as one reason, whatever the rule.
    reasons = Counter(
        "failing rule" if gap["reason"].startswith("failing rule") else gap["reason"] for gap in document["gaps"]
    )
    print(f"coverage: {document['overall']}  weighted ratio {document['weighted']['ratio']}")
    print("gaps by reason: " + ", ".join(f"{reason} {count}" for reason, count in reasons.most_common()))


def main() -> None:
    rng = random.Random(SEED)
    catalogue = synthetic_catalogue(rng)
    with tempfile.TemporaryDirectory(prefix="bench-coverage-") as folder:
        path = Path(folder) / "catalog.db"
        insert_seconds = build_database(path, rng, catalogue)
        print(
            f"setup: {EVIDENCE_ROWS:,} evidence rows over {RESOURCES:,} resources inserted in "
            f"{insert_seconds:.2f} s (SQLite {sqlite3.sqlite_version}, default pragmas)"
        )
        for label, ddl in INDEX_VARIANTS:
            index_seconds = add_index(path, ddl)
            size_mb = path.stat().st_size / 1e6
            runs = [measure(path, catalogue) for _ in range(REPEATS)]
            report(f"{label}: built in {index_seconds:.2f} s, file {size_mb:.0f} MB", runs)
        describe(runs[-1][2])


if __name__ == "__main__":
    main()
