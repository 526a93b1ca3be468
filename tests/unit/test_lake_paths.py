"""The lake's layout: file names that carry the Kafka range, atomic writes, load manifests."""

from __future__ import annotations

import glob
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse import lake

RESOURCE = SimpleNamespace(id="household_population", domain="population")


def test_file_name_round_trips_topic_partition_and_offsets():
    name = lake.file_name("hub.raw.household_population", 2, 1000, 249_999)
    assert name == "hub.raw.household_population-2-1000-249999.parquet"
    assert lake.parse_file_name(name) == ("hub.raw.household_population", 2, 1000, 249_999)


@pytest.mark.parametrize(
    "name",
    [
        ".hub.raw.x-0-0-9.parquet.123.tmp",
        "hub.raw.x-0-0-9.parquet.tmp",
        "notes.txt",
        "hub.raw.x-0-9.parquet",
    ],
)
def test_other_names_are_not_lake_files(name):
    assert lake.parse_file_name(name) is None


def test_path_layout_is_domain_resource_day(hub_env):
    path = lake.file_path(RESOURCE, "hub.raw.household_population", 0, 0, 99, "2026-11-24")
    assert (
        path
        == hub_env
        / "lake"
        / "population"
        / "household_population"
        / "dt=2026-11-24"
        / "hub.raw.household_population-0-0-99.parquet"
    )
    assert (
        lake.relative(path)
        == "population/household_population/dt=2026-11-24/hub.raw.household_population-0-0-99.parquet"
    )
    assert lake.absolute(lake.relative(path)) == path


def test_landing_day_is_the_shanghai_calendar_day():
    assert lake.landing_day(datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc)) == "2026-11-24"
    assert lake.landing_day(datetime(2026, 11, 23, 15, 59, tzinfo=timezone.utc)) == "2026-11-23"


def test_atomic_write_leaves_only_the_final_file(hub_env):
    path = lake.file_path(RESOURCE, "hub.raw.household_population", 1, 5, 7, "2026-11-24")
    size = lake.write_parquet_atomic(pa.table({"gmsfhm": ["a", "b", "c"]}), path)
    assert size == path.stat().st_size > 0
    assert pq.read_table(path).column("gmsfhm").to_pylist() == ["a", "b", "c"]
    assert list(path.parent.iterdir()) == [path]
    assert glob.glob(lake.parquet_glob(RESOURCE)) == [str(path)]


def test_a_failed_write_leaves_nothing(hub_env, monkeypatch):
    path = lake.file_path(RESOURCE, "hub.raw.household_population", 0, 0, 1, "2026-11-24")

    def broken(table, where, **kwargs):
        open(where, "wb").write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(lake.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        lake.write_parquet_atomic(pa.table({"x": [1]}), path)
    assert list(path.parent.iterdir()) == []


def test_list_files_orders_by_partition_and_offset_and_skips_temp_files(hub_env):
    topic = "hub.raw.household_population"
    for partition, first, last, day in [(1, 0, 9, "2026-11-24"), (0, 10, 19, "2026-11-25"), (0, 0, 9, "2026-11-24")]:
        lake.write_parquet_atomic(pa.table({"x": [1]}), lake.file_path(RESOURCE, topic, partition, first, last, day))
    stray = lake.resource_dir(RESOURCE) / "dt=2026-11-24" / ".left-behind.parquet.99.tmp"
    stray.write_bytes(b"partial")
    assert [(f.partition, f.first, f.last) for f in lake.list_files(RESOURCE)] == [(0, 0, 9), (0, 10, 19), (1, 0, 9)]
    assert lake.remove_temp_files(RESOURCE) == 1
    assert not stray.exists()


def test_manifests_move_from_pending_to_published(hub_env):
    lake.write_manifest("r1", "load-1", {"rows": 3}, pending=True)
    assert lake.pending_manifests("r1") == [("load-1", {"rows": 3})]
    assert lake.unpublished_manifests("r1") == []
    lake.promote_manifest("r1", "load-1")
    assert lake.pending_manifests("r1") == []
    assert lake.unpublished_manifests("r1") == [("load-1", {"rows": 3})]
    lake.drop_manifest("r1", "load-1")
    assert lake.unpublished_manifests("r1") == []


def test_the_resource_lock_excludes_a_second_lander(hub_env):
    from warehouse.errors import LandingBusy

    with lake.resource_lock(RESOURCE):
        with pytest.raises(LandingBusy, match="household_population"):
            with lake.resource_lock(RESOURCE):
                pass
    with lake.resource_lock(RESOURCE):  # released
        pass


def test_unknown_resource_names_where_it_looked():
    from warehouse.errors import UnknownResource

    with pytest.raises(UnknownResource, match="'nope'.*the catalogue given"):
        lake.resolve_resource("nope", [SimpleNamespace(id="other", items=[], release_date=date(2024, 1, 1))])
