"""The catalogue database is the truth once loaded: the reader gives back every seed entry whole,
and every commit that changes an entry rewrites the snapshot the DAG files are laid out from."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from catalog import reader
from catalog.db import session_scope
from catalog.spec import load_catalogue
from catalog.store import load_catalogue_into
from hub.settings import REPO_ROOT

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
SEED = REPO_ROOT / "catalog" / "seed"


def entries(catalogue) -> list[dict]:
    return sorted(
        (r.model_dump(mode="json", exclude={"line", "file"}) for r in catalogue.resources),
        key=lambda entry: entry["id"],
    )


@pytest.fixture
def loaded(hub_env):
    seed = load_catalogue(SEED)
    with session_scope() as session:
        load_catalogue_into(session, seed, now=NOW)
    return seed


def test_every_seed_entry_comes_back_whole_from_the_database(loaded):
    read = reader.catalogue()
    assert entries(read) == entries(loaded)
    assert {d.id for d in read.departments} == {d.id for d in loaded.departments}
    assert any(r.checks for r in read.resources)  # row-set checks survive the database


def test_the_snapshot_follows_every_committed_change_and_nothing_else(loaded):
    assert entries(reader.snapshot()) == entries(loaded)
    retired = loaded.resources[0].model_copy(update={"status": "已下线"})
    changed = loaded.model_copy(update={"resources": [retired, *loaded.resources[1:]]})
    with pytest.raises(RuntimeError), session_scope() as session:
        load_catalogue_into(session, changed, now=NOW)
        raise RuntimeError("rolled back")
    assert reader.resolve(retired.id, reader.snapshot()).status != "已下线"
    with session_scope() as session:
        load_catalogue_into(session, changed, now=NOW)
    snapshot = reader.snapshot()
    assert reader.resolve(retired.id, snapshot).status == "已下线"
    assert retired.id not in {r.id for r in reader.in_force(snapshot)}


def test_an_unknown_id_says_where_it_looked(loaded):
    with pytest.raises(reader.UnknownResource, match="catalogue database"):
        reader.resolve("no_such_resource")


def test_no_snapshot_before_the_first_load_is_an_empty_catalogue(hub_env):
    assert reader.snapshot().resources == []


def test_a_held_catalogue_is_read_once_even_when_held_again_inside(loaded, monkeypatch):
    reads = []
    read = reader._read
    monkeypatch.setattr(reader, "_read", lambda session: reads.append(1) or read(session))
    with reader.held() as day:  # a simulated day
        with reader.held() as one_load:  # each of its flows' load task
            assert one_load is day and reader.catalogue() is day
        assert reader.catalogue() is day
    assert len(reads) == 1
    reader.catalogue()  # outside, the database again
    assert len(reads) == 2
