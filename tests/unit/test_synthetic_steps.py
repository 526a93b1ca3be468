"""Later seed steps: time moves on, sources grow and change (so incremental reads have work), the
cursor column only moves forward, and the catalogue/event views stay consistent."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from connectors import systems
from synthetic import generate
from synthetic.base import DEFAULT_AS_OF, STEP_INTERVAL, SyntheticError, iso_ts
from synthetic.snapshot import source_files, stored_rows

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

STEPPED = {
    "resident_population",
    "electricity_readings",
    "electricity_accounts",
    "land_parcels",
    "buildings",
    "camera_devices",
    "camera_status",
    "air_quality",
}


@pytest.fixture(scope="module")
def seeded_steps(tmp_path_factory):
    """Steps 0 and 1 of a few resources of each system, seeded once for the module."""
    from hub import settings as hub_settings

    folder = tmp_path_factory.mktemp("steps") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(folder))
        hub_settings.reset_settings()
        before = generate.seed("tiny", 3, only=STEPPED)
        after = generate.seed("tiny", 3, step=1, only=STEPPED)
    hub_settings.reset_settings()
    return folder, before, after


@pytest.fixture
def stepped(hub_env, seeded_steps):
    """This test's own copy of the stepped sources."""
    folder, before, after = seeded_steps
    shutil.copytree(folder / "sources", hub_env / "sources")
    return before, after, {r.id: r for r in generate.bound_resources() if r.id in STEPPED}


def test_a_step_adds_records_everywhere(stepped):
    before, after, resources = stepped
    for resource_id in STEPPED:
        assert after["resources"][resource_id]["records"] > before["resources"][resource_id]["records"], resource_id
        assert len(list(stored_rows(resources[resource_id]))) == after["resources"][resource_id]["records"]
    assert after["step"] == 1 and after["generated_at"] == (DEFAULT_AS_OF + STEP_INTERVAL).isoformat()
    assert any("_001" in path.name for path in source_files(resources["land_parcels"]))


def test_sql_cursor_moves_forward_for_inserts_and_updates(stepped):
    before, after, _resources = stepped
    with sqlite3.connect(systems.sources_dir() / "population_db.sqlite") as db:
        stamps = [row[0] for row in db.execute("SELECT updated_at FROM rk_czrk ORDER BY rowid")]
    base_count = before["resources"]["resident_population"]["records"]
    step0, step1 = stamps[:base_count], stamps[base_count:]
    step_start, step_end = iso_ts(DEFAULT_AS_OF), iso_ts(DEFAULT_AS_OF + STEP_INTERVAL)
    kept = [stamp for stamp in step0 if stamp <= step_start]
    assert kept == sorted(kept) and step1 == sorted(step1)
    assert all(step_start < stamp <= step_end for stamp in step1)
    updated = [stamp for stamp in step0 if stamp > step_start]
    assert len(updated) == after["resources"]["resident_population"]["updated"] > 0
    assert all(stamp <= step_end for stamp in updated)


def test_device_status_is_its_last_event(stepped):
    _before, after, resources = stepped
    last = {}
    for event in stored_rows(resources["camera_status"]):
        if event.get("device_id"):
            last[event["device_id"]] = event["status"]
    devices = [d for d in stored_rows(resources["camera_devices"]) if d.get("device_id")]
    mismatched = [d["device_id"] for d in devices if last[d["device_id"]] != d["status"]]
    # An event whose device ID was blanked (the unreadable row) may hide a device's last change.
    assert devices and len(mismatched) <= len(after["resources"]["camera_status"]["defects"].get("unreadable_row", []))
    online = sum(d["status"] == "ON" for d in devices) / len(devices)
    assert 0.85 <= online <= 0.98


def test_steps_must_follow_a_matching_seed(hub_env):
    with pytest.raises(SyntheticError, match="run `hub seed"):
        generate.seed("tiny", 3, step=1, only={"air_quality"})
    generate.seed("tiny", 3, only={"air_quality"})
    with pytest.raises(SyntheticError, match="same"):
        generate.seed("tiny", 4, step=1, only={"air_quality"})
    generate.seed("tiny", 3, step=1, only={"air_quality"})
    with pytest.raises(SyntheticError, match="already at step 1"):
        generate.seed("tiny", 3, step=1, only={"air_quality"})


def test_unknown_scale_or_resource_is_refused(hub_env):
    with pytest.raises(SyntheticError, match="scale"):
        generate.seed("huge", 1)
    with pytest.raises(SyntheticError, match="no bound resource"):
        generate.seed("tiny", 1, only={"not_a_resource"})


def test_outbox_lines_are_mqtt_messages_on_the_bound_topics(stepped):
    _before, after, resources = stepped
    lines = [json.loads(line) for line in (systems.sources_dir() / "iot_outbox.jsonl").read_text().splitlines()]
    assert len(lines) == after["resources"]["air_quality"]["records"]
    assert all(
        line["qos"] == 1
        and line["topic"].startswith("sd/4406")
        and line["topic"].endswith("/telemetry")
        and line["topic"].split("/")[2] == "pm25"
        for line in lines
    )


def test_a_clean_step_adds_records_but_no_defect(hub_env):
    """`hub seed --step K --clean` (what a simulation uses): the new and changed records are all clean,
    the defects of earlier steps stay as they were; a step without it adds defects again."""
    noisy = {"resident_population", "drone_work_orders", "police_cloud_ai_alerts", "electricity_readings"}

    def defects(manifest: dict) -> dict:
        return {rid: manifest["resources"][rid]["defects"] for rid in noisy}

    start = generate.seed("tiny", 7, only=noisy, step_hours=24)
    clean = generate.seed("tiny", 7, step=1, only=noisy, clean=True)
    assert all(clean["resources"][rid]["records"] > start["resources"][rid]["records"] for rid in noisy)
    assert defects(clean) == defects(start)
    noisy_step = generate.seed("tiny", 7, step=2, only=noisy)
    assert defects(noisy_step) != defects(clean)
    with pytest.raises(SyntheticError, match="--clean is for later steps"):
        generate.seed("tiny", 7, clean=True, only=noisy)
