"""The synthetic source systems as a whole: deterministic, complete (every bound resource), and
their manifest is the exact ground truth — every listed record exists, is as broken as it says,
and nothing else is broken."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from connectors import systems
from hub import settings as hub_settings
from quality.rules import RULES
from synthetic import generate
from synthetic.snapshot import checksum, identity, stored_rows

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

CORE = (
    "resident_population",
    "market_entities",
    "electricity_readings",
    "electricity_accounts",
    "land_parcels",
    "buildings",
    "standard_addresses",
    "camera_devices",
    "camera_status",
    "air_quality",
    "manhole_covers",
)


@pytest.fixture(scope="module")
def seeded_tiny(tmp_path_factory):
    """Every bound resource at the tiny scale, seeded once for the module (copied into each test)."""
    folder = tmp_path_factory.mktemp("seeded") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(folder))
        hub_settings.reset_settings()
        generate.seed("tiny", 11)
    hub_settings.reset_settings()
    return folder


@pytest.fixture
def sources(hub_env, seeded_tiny):
    """This test's own copy of the seeded sources, under its isolated HUB_VAR_DIR."""
    shutil.copytree(seeded_tiny / "sources", hub_env / "sources")
    return json.loads(systems.manifest_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources():
    return {resource.id: resource for resource in generate.bound_resources()}


def test_every_bound_resource_is_seeded_with_its_records(sources, resources):
    assert set(sources["resources"]) == set(resources)
    for resource_id, entry in sources["resources"].items():
        stored = list(stored_rows(resources[resource_id]))
        assert len(stored) == entry["records"] > 0, resource_id
        assert entry["key_columns"] == [item.name for item in resources[resource_id].items if item.key]


def test_hand_made_generators_cover_the_core_resources(resources):
    missing = sorted(set(generate.GENERATORS) - set(resources))
    assert not missing, f"registry names resources the catalogue does not bind: {missing}"
    assert set(CORE) <= set(generate.GENERATORS)


def test_same_seed_gives_identical_sources_and_another_seed_does_not(hub_env, sources, resources):
    first = {rid: checksum(resources[rid]) for rid in CORE}
    generate.seed("tiny", 11)
    again = json.loads(systems.manifest_path().read_text(encoding="utf-8"))
    assert again == sources
    assert {rid: checksum(resources[rid]) for rid in CORE} == first
    generate.seed("tiny", 12, only=set(CORE))
    other = {rid: checksum(resources[rid]) for rid in CORE}
    assert all(other[rid] != first[rid] for rid in CORE)


def test_two_workers_write_the_same_bytes_as_one_process(hub_env, seeded_tiny):
    generate.seed("tiny", 11, workers=2)
    written = sorted(p.relative_to(hub_env) for p in (hub_env / "sources").rglob("*") if p.is_file())
    expected = sorted(p.relative_to(seeded_tiny) for p in (seeded_tiny / "sources").rglob("*") if p.is_file())
    assert written == expected
    for path in written:
        assert (hub_env / path).read_bytes() == (seeded_tiny / path).read_bytes(), path


def _is_unreadable(resource, row: dict) -> bool:
    from connectors.kinds.geometry import geojson_to_wkt, gpkg_to_wkt

    kind = resource.binding.kind
    if kind == "sql":
        return any(isinstance(value, bytes) for value in row.values())
    if kind == "file":
        geometry = row["_geometry"]
        try:
            gpkg_to_wkt(geometry) if isinstance(geometry, bytes) else geojson_to_wkt(geometry)
        except Exception:  # the connectors' own reader is the judge
            return True
        return False
    if kind == "http":
        return any(row.get(key) is None for key in (i.name for i in resource.items if i.key))
    try:
        json.loads(row["_payload"])
    except ValueError:
        return True
    return False


def _find(resource, rows: list[dict], key_columns: list[str], listed: str) -> list[dict]:
    if listed.startswith("#"):
        return [row for row in rows if row.get("_seq") == int(listed[1:])]
    if resource.binding.kind == "mqtt":
        parts = listed.split("|")
        return [
            row
            for row in rows
            if identity(row, key_columns) == listed or all(part in row["_payload"] for part in parts)
        ]
    return [row for row in rows if identity(row, key_columns) == listed]


def test_every_listed_defective_record_is_found_by_its_identity(sources, resources):
    for resource_id, entry in sources["resources"].items():
        resource = resources[resource_id]
        rows = list(stored_rows(resource))
        for defect, identities in entry["defects"].items():
            for listed in identities:
                found = _find(resource, rows, entry["key_columns"], listed)
                assert found, f"{resource_id}: {defect} record {listed!r} is not in the source"
                if defect in ("duplicate_exact", "near_duplicate_fullwidth"):
                    assert len(found) >= 2, f"{resource_id}: {listed} should appear twice"
                if defect == "unreadable_row":
                    assert any(_is_unreadable(resource, row) for row in found), f"{resource_id}: {listed} is readable"


def test_each_system_has_unreadable_rows(sources):
    by_system = {}
    for entry in sources["resources"].values():
        by_system[entry["system"]] = by_system.get(entry["system"], 0) + len(entry["defects"].get("unreadable_row", []))
    assert set(by_system) == set(systems.ALL_SYSTEMS)
    assert {system: count for system, count in by_system.items() if count == 0} == {}, by_system


def _rule_failure(item, value) -> str | None:
    rules = item.rules
    if value is None or value == "":
        return None if item.nullable else "missing"
    if rules.values and str(value) not in rules.values:
        return "values"
    if rules.validator in RULES and not RULES[rules.validator].row(value):
        return rules.validator
    if rules.regex and not re.fullmatch(rules.regex, str(value)):
        return "regex"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (rules.min is not None and value < rules.min) or (rules.max is not None and value > rules.max):
            return "range"
    return None


def test_records_not_listed_as_defective_pass_their_item_rules(sources, resources):
    """No accidental defects: a quality failure is always one the manifest declares."""
    for resource_id, entry in sources["resources"].items():
        resource = resources[resource_id]
        declared = {i for ids in entry["defects"].values() for i in ids}
        for row in stored_rows(resource):
            if identity(row, entry["key_columns"]) in declared or f"#{row.get('_seq')}" in declared:
                continue
            if resource.binding.kind == "mqtt" and not row.get("device_id"):
                continue  # an unparsable payload is listed by its key text
            for item in resource.items:
                if item.name == "geometry":
                    continue
                failure = _rule_failure(item, row.get(item.name))
                assert failure is None, (
                    f"{resource_id} {identity(row, entry['key_columns'])}: {item.name}={row.get(item.name)!r} fails {failure}"
                )
