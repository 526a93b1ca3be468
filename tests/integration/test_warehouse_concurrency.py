"""Analysts query the warehouse while loads run: readers in other processes never fail, never wait
for a writer and never see a half-applied merge; concurrent writers do not lose each other's work.

Files are put in the lake directly (no Kafka): what is tested is the DuckDB side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa

from catalog import derive
from catalog.spec import Item, Resource
from hub.settings import REPO_ROOT
from warehouse import lake, store

BATCH = 20_000
T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
READER = """
import json, sys, time
import duckdb

path, table, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sql = f"SELECT count(*), count(DISTINCT gmsfhm) FROM {table}"
seen, errors = [], []
held = duckdb.connect(path, read_only=True) if mode == "held" else None
print("ready", flush=True)
while (line := sys.stdin.readline()) and not line.startswith("stop"):  # EOF stops it too
    try:
        if held is not None:
            seen.append(held.execute(sql).fetchone())
        else:
            connection = duckdb.connect(path, read_only=True)  # what an analyst's new session does
            seen.append(connection.execute(sql).fetchone())
            connection.close()
    except Exception as exc:
        errors.append(repr(exc))
print(json.dumps({"seen": seen, "errors": errors}))
"""


def make_resource(name: str) -> Resource:
    return Resource(
        id=f"t_conc_{name}",
        code="101001/000001",
        name="测试人口",
        provider="gaj",
        classification="基础/人口/户籍人口",
        abstract="测试",
        format="数据库",
        domain="population",
        update_cycle="每日",
        sharing_type="无条件共享",
        open_type="不开放",
        release_date=date(2024, 1, 1),
        items=[
            Item(name="gmsfhm", label="公民身份号码", type="C", nullable=False, key=True),
            Item(name="xm", label="姓名", type="C"),
        ],
    )


def put_batch(resource, number: int) -> None:
    """A landed (and gated) file as landing would write it: BATCH new keys, plus updates of half the previous
    batch's keys (so a merge half done — old rows deleted, new not yet in — would show)."""
    keys = list(range(max(0, number * BATCH - BATCH // 2), (number + 1) * BATCH))
    first = number * 2 * BATCH  # offsets of this file, disjoint from the other batches'
    rows = {
        "gmsfhm": [f"{resource.id}-{n:08d}" for n in keys],
        "xm": [f"人{n}-{number}" for n in keys],
        "_event_time": [T0 + timedelta(seconds=number)] * len(keys),
        "_op": ["upsert"] * len(keys),
        "_source": ["test"] * len(keys),
        "_partition": [0] * len(keys),
        "_offset": list(range(first, first + len(keys))),
    }
    table = pa.Table.from_pydict(rows, schema=derive.arrow_schema(resource))
    topic, _ = derive.topics(resource)
    landed = lake.file_path(resource, topic, 0, first, first + len(keys) - 1, "2026-05-01")
    lake.write_parquet_atomic(table, landed)
    # As the quality gate would pass it whole: staging merges the gate's passed files (not what this module tests).
    lake.write_parquet_atomic(table, lake.zone_path(resource, "_passed", landed))


class Reader:
    """A reader process that queries in a loop, one query per line we send it."""

    def __init__(self, table: str, mode: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(store.warehouse_path()), table, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def query(self, times: int = 1) -> None:
        self.process.stdin.write("go\n" * times)
        self.process.stdin.flush()

    def results(self) -> dict:
        out, err = self.process.communicate("stop\n", timeout=60)
        assert self.process.returncode == 0, err[-2000:]
        return json.loads(out.strip().splitlines()[-1])


def test_readers_see_whole_loads_while_merges_run(hub_env):
    resource = make_resource("readers")
    catalogue = [resource]
    put_batch(resource, 0)
    store.update_staging(resource.id, catalogue=catalogue)
    table = f'staging."{resource.id}"'
    fresh, held = Reader(table, "fresh"), Reader(table, "held")
    try:
        for number in range(1, 6):
            put_batch(resource, number)
            fresh.query(20)  # queued: the reader runs them while the merge below is under way
            held.query(20)
            store.update_staging(resource.id, catalogue=catalogue)
        fresh.query(5)
        fresh_view, held_view = fresh.results(), held.results()
    finally:
        for reader in (fresh, held):
            if reader.process.poll() is None:
                reader.process.kill()

    assert fresh_view["errors"] == [] and held_view["errors"] == []
    counts = [count for count, distinct in fresh_view["seen"]]
    assert all(count == distinct and count % BATCH == 0 for count, distinct in fresh_view["seen"])
    assert counts == sorted(counts) and counts[-1] == 6 * BATCH  # whole loads only, never going back
    assert {tuple(s) for s in held_view["seen"]} == {(BATCH, BATCH)}  # an open session keeps its snapshot


def test_concurrent_writers_lose_nothing(hub_env):
    resources = [make_resource("writer_a"), make_resource("writer_b")]
    failures = []

    def load(resource) -> None:
        try:
            for number in range(4):
                put_batch(resource, number)
                store.update_staging(resource.id, catalogue=resources)
        except Exception as exc:  # surfaced by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=load, args=(r,)) for r in resources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    connection = store.connect_reader()
    try:
        for resource in resources:
            assert connection.execute(f'SELECT count(*) FROM staging."{resource.id}"').fetchone() == (4 * BATCH,)
        assert connection.execute("SELECT count(*) FROM meta.loads").fetchone() == (8,)
    finally:
        connection.close()


def test_a_failed_change_leaves_the_warehouse_as_it_was(hub_env):
    resource = make_resource("rollback")
    put_batch(resource, 0)
    store.update_staging(resource.id, catalogue=[resource])
    before = store.warehouse_path().read_bytes()
    try:
        with store.writer() as connection:
            connection.execute(f'DELETE FROM staging."{resource.id}"')
            raise RuntimeError("the merge failed half-way")
    except RuntimeError:
        pass
    assert store.warehouse_path().read_bytes() == before
    assert [p.name for p in store.warehouse_path().parent.iterdir() if p.name.endswith(".tmp")] == []
