"""Staging must not depend on how often a range was replayed: the flow of a resource with row-set
checks is killed (SIGKILL) at random points across connect, land, gate and stage, then finished;
staging, quarantine and findings must equal those of an uninterrupted run on the same seed.

Two hub homes with a broker each (the same resources' topics must not meet): `calm` runs once,
`killed` starts afresh in each episode (new var dir, the resource's topics dropped), is killed
2-4 times, runs to the end and must then hold what `calm` holds; at least KILLS kills in all.
"""

from __future__ import annotations

from collections import Counter

import pytest
from replay_kit import (
    copy_sources,
    drop_topics,
    free_port,
    kill_in_episodes,
    make_home,
    staging_digest,
    timed_run,
    with_var,
    zone_rows,
)

from catalog import derive
from catalog.spec import load_catalogue
from hub.settings import REPO_ROOT

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
KILLS = 20
# One resource per kind of row-set check: meters judged with history, households, geometry.
RESOURCES = ["electricity_readings", "household_population", "land_parcels"]


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    libs = REPO_ROOT / "var" / "kafka" / "libs"
    calm = make_home(tmp_path_factory.mktemp("calm"), [free_port(), free_port()], libs)
    killed = make_home(tmp_path_factory.mktemp("killed"), [free_port(), free_port()], libs)
    calm.hub("seed", "--scale", "tiny")
    calm.hub("catalog", "load", str(REPO_ROOT / "catalog" / "seed"))
    copy_sources(calm, killed)
    try:
        for home in (calm, killed):
            home.hub("kafka", "up")
        yield calm, killed
    finally:
        for home in (calm, killed):
            home.hub("kafka", "down")


@pytest.fixture(scope="module")
def catalogue():
    return {r.id: r for r in load_catalogue(REPO_ROOT / "catalog" / "seed").resources}


@pytest.mark.parametrize("resource_id", RESOURCES)
def test_staging_after_kills_equals_an_uninterrupted_run(homes, catalogue, resource_id, tmp_path):
    calm, killed = homes
    resource = catalogue[resource_id]
    durations = timed_run(calm, resource_id)
    items, keys = [item.name for item in resource.items], derive.key_columns(resource)
    expected = {
        "staging": staging_digest(calm, resource_id, items),
        "quarantine": {_judged(row, keys) for row in zone_rows(calm, "_quarantine", resource)},
        "findings": _findings(zone_rows(calm, "_findings", resource)),
    }

    def fresh_home():
        drop_topics(killed, resource_id)
        home = with_var(killed, tmp_path / f"episode-{len(list(tmp_path.iterdir()))}")
        copy_sources(killed, home)
        return home

    def same_as_calm(home):
        assert staging_digest(home, resource_id, items) == expected["staging"]
        quarantined, findings = zone_rows(home, "_quarantine", resource), zone_rows(home, "_findings", resource)
        assert {_judged(row, keys) for row in quarantined} == expected["quarantine"]
        # key.unique judges one load: a connector replaying after a kill sends keys again, and they
        # are (rightly) flagged as repeated within the load; every other finding is the same.
        assert _findings(findings) == expected["findings"]
        _each_record_once(quarantined, ())
        _each_record_once(findings, ("check", "outcome"))

    report = kill_in_episodes(
        fresh_home,
        resource_id,
        durations,
        same_as_calm,
        kills=KILLS,
        seed=RESOURCES.index(resource_id),
        max_episodes=KILLS,
    )
    print(
        f"{resource_id}: kills per step {dict(report.kills)} in {report.episodes} episodes, "
        f"runs that finished before the kill {report.finished_early}"
    )
    assert sum(report.kills.values()) >= KILLS


def _judged(row: dict, keys: list[str]) -> tuple:
    return (*(row[k] for k in keys), tuple(row["_failed_rules"]))


def _findings(rows: list[dict]) -> set[tuple]:
    return {(row["key"], row["check"], row["outcome"]) for row in rows if row["check"] != "key.unique"}


def _each_record_once(rows: list[dict], per: tuple[str, ...]) -> None:
    """A Kafka record has one verdict: the last attempt's, never one per attempt."""
    counts = Counter((row["_partition"], row["_offset"], *(row[c] for c in per)) for row in rows)
    assert [record for record, n in counts.items() if n > 1] == []
