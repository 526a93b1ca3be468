"""`hub seed`: build every bound resource's source object, deterministically, and write the
ground-truth manifest (record counts and the exact records carrying each injected defect).

Step 0 builds the sources afresh; step K > 0 moves the synthetic clock on and adds to them: new
rows, files, events and messages, plus updates of existing SQL rows (their cursor moves on).
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from catalog.selection import SEED_DIR
from catalog.spec import load_catalogue, seed_files
from connectors import systems
from synthetic import drone, entities, generic, gis, holders, iot, meters, parallel, people, video, video_clouds
from synthetic.base import (
    DEFAULT_AS_OF,
    SCALES,
    STEP_INTERVAL,
    STEP_UPDATE_SHARE,
    Chunk,
    ResourceContext,
    SyntheticError,
    stable_seed,
)
from synthetic.defects import Tally, no_new_defects
from synthetic.replay import shared_streams
from synthetic.sinks import IOT_OUTBOX, dispose_engines, open_sink
from synthetic.sqlstore import DEFAULT_CURSOR
from synthetic.values import filler

Generator = Callable[[ResourceContext], Iterator[Chunk]]
DEFAULT_SEED = 7

#: Hand-made generators for the core resources, by catalogue resource id; every other bound
#: resource is generated from its items by `generic.generate`.
GENERATORS: dict[str, Generator] = {
    "resident_population": people.residents,
    "household_population": people.registered,
    "migrant_registration": people.migrants,
    "market_entities": entities.market_entities,
    "individual_businesses": entities.individual_businesses,
    "subsistence_allowance": holders.subsistence_allowance,
    "industrial_enterprises": holders.industrial_enterprises,
    "electricity_accounts": meters.accounts,
    "electricity_readings": meters.readings,
    "water_accounts": meters.accounts,
    "water_readings": meters.readings,
    "gas_accounts": meters.accounts,
    "gas_readings": meters.readings,
    "land_parcels": gis.parcels,
    "buildings": gis.buildings,
    "standard_addresses": gis.addresses,
    "camera_devices": video.devices,
    "camera_status": video.status_events,
    "river_water_levels": iot.telemetry,
    "waterlogging_levels": iot.telemetry,
    "air_quality": iot.telemetry,
    "environmental_noise": iot.telemetry,
    "manhole_covers": iot.telemetry,
    "smoke_alarms": iot.telemetry,
    "gas_leak_monitoring": iot.telemetry,
    "water_quality_stations": iot.telemetry,
    "key_polluter_emissions": iot.telemetry,
    "rainfall": iot.telemetry,
    "site_dust": iot.telemetry,
    "drone_flight_missions": drone.missions,
    "drone_imagery": drone.imagery,
    "drone_work_orders": drone.work_orders,
    **video_clouds.GENERATORS,
}
#: What a later step changes in existing SQL rows, by resource id (default: `generic.default_mutator`).
MUTATORS: dict[str, Callable] = {
    "resident_population": people.mutator,
    "household_population": people.mutator,
    "migrant_registration": people.mutator,
    "market_entities": entities.mutator,
    "individual_businesses": entities.mutator,
    **{f"{utility}_readings": meters.readings_mutator for utility in meters.UTILITIES},
    **{f"{utility}_accounts": meters.accounts_mutator for utility in meters.UTILITIES},
    "drone_flight_missions": drone.missions_mutator,
    "drone_imagery": drone.imagery_mutator,
    "drone_work_orders": drone.work_orders_mutator,
}


def bound_resources(catalogue_path: str | Path | None = None) -> list:
    """Every catalogue resource with a source binding, in id order."""
    path = Path(catalogue_path or SEED_DIR)
    departments, resource_files = seed_files(path)
    stamps = tuple((str(f), f.stat().st_mtime_ns) for f in [departments, *resource_files] if f.exists())
    return list(_bound_resources(str(path), stamps))


@functools.lru_cache(maxsize=4)
def _bound_resources(path: str, stamps: tuple) -> tuple:
    # Cached per file set and modification times: a seed edit is picked up, a re-seed is not slowed.
    catalogue = load_catalogue(path)
    return tuple(sorted((r for r in catalogue.resources if r.binding is not None), key=lambda r: r.id))


def seed(
    scale: str = "small",
    seed_value: int = DEFAULT_SEED,
    step: int = 0,
    *,
    as_of: datetime | None = None,
    catalogue_path: str | Path | None = None,
    only: set[str] | None = None,
    skip_departments: set[str] | None = None,
    step_hours: float | None = None,
    clean: bool = False,
    progress: Callable[[str, int, float], None] | None = None,
    workers: int | None = None,
) -> dict:
    """Generate the sources and write the manifest; returns the manifest.

    `step_hours` is how far each step moves the synthetic clock (1 h unless given at step 0; later
    steps keep it). `skip_departments`: systems that are down this step get no new records (an
    outage: nothing is entered or changed there until it is back). `clean`: a later step's new and
    changed records carry no injected defect (step 0 always has them: they are the sources' ground truth).
    `workers`: processes building sources side by side (default: one at tiny and small, two above);
    the sources are the same bytes whatever the number."""
    if scale not in SCALES:
        raise SyntheticError(f"scale {scale!r} is unknown; use one of {', '.join(SCALES)}")
    if step < 0:
        raise SyntheticError(f"--step {step} must be 0 (build afresh) or a positive increment")
    if clean and step == 0:
        raise SyntheticError("--clean is for later steps: step 0 builds the sources with their defects")
    resources = [r for r in bound_resources(catalogue_path) if only is None or r.id in only]
    if only and len(resources) != len(only):
        missing = sorted(only - {r.id for r in resources})
        raise SyntheticError(f"no bound resource with id {', '.join(missing)} in the catalogue")
    previous = _previous_manifest(scale, seed_value, step)
    base_as_of = as_of or (datetime.fromisoformat(previous["as_of"]) if previous else DEFAULT_AS_OF)
    interval = _step_interval(previous, step_hours)
    resources = [r for r in resources if r.provider not in (skip_departments or set())]
    if step == 0:
        _clear_sources(resources)
    entries = dict(previous.get("resources", {}) if previous else {})
    job = SeedJob(catalogue_path, scale, seed_value, step, base_as_of, interval, clean)
    previous_entries = {r.id: entries[r.id] for r in resources if r.id in entries}
    for resource_id, entry in parallel.run(seed_group, job, resources, previous_entries, workers, progress):
        entries[resource_id] = entry
    manifest = {
        "seed": seed_value,
        "scale": scale,
        "step": step,
        "as_of": base_as_of.isoformat(),
        "step_hours": interval / timedelta(hours=1),
        "generated_at": (base_as_of + interval * step).isoformat(),
        "resources": {rid: entries[rid] for rid in sorted(entries)},
    }
    _write_json(systems.manifest_path(), manifest)
    return manifest


@dataclass(frozen=True)
class SeedJob:
    """What every resource of one `seed` call shares (sent to worker processes as is)."""

    catalogue_path: str | Path | None
    scale: str
    seed_value: int
    step: int
    base_as_of: datetime
    interval: timedelta
    clean: bool


def seed_group(
    job: SeedJob,
    resource_ids: list[str],
    previous_entries: dict[str, dict],
    progress: Callable[[str, int, float], None] | None = None,
) -> list[tuple[str, dict, float]]:
    """Seed the resources in order in this process; (id, manifest entry, seconds) of each."""
    resources = {r.id: r for r in bound_resources(job.catalogue_path)}
    done = []
    try:
        with shared_streams():
            for resource_id in resource_ids:
                started = time.perf_counter()
                with no_new_defects() if job.clean else nullcontext():
                    entry = _seed_resource(
                        resources[resource_id],
                        job.scale,
                        job.seed_value,
                        job.step,
                        job.base_as_of,
                        previous_entries.get(resource_id),
                        job.interval,
                    )
                done.append((resource_id, entry, time.perf_counter() - started))
                if progress:
                    progress(resource_id, entry["records"], done[-1][2])
    finally:
        dispose_engines()
    return done


def _seed_resource(
    resource, scale: str, seed_value: int, step: int, base_as_of: datetime, previous: dict | None, interval: timedelta
) -> dict:
    keys = [item.name for item in resource.items if item.key]
    tally = Tally(keys)
    ctx = ResourceContext(resource, seed_value, scale, step, base_as_of, tally, interval=interval)
    ctx.previous_records = previous["records"] if previous else 0
    kind = resource.binding.kind
    if kind == "sql" and step > 0:
        ctx.updates = max(1, round(ctx.previous_records * STEP_UPDATE_SHARE))
    sink = open_sink(ctx)
    try:
        generator = GENERATORS.get(resource.id)
        # The SQL sink stamps the cursor column itself: the filler need not build a value for it.
        cursor = {str(resource.binding.config.get("cursor_column") or DEFAULT_CURSOR)} if kind == "sql" else set()
        fill_seed = stable_seed(seed_value, resource.id, step, "fill")
        fill = filler(resource, ctx.as_of, fill_seed, overwritten=cursor) if generator else None
        for chunk in (generator or generic.generate)(ctx):
            if not chunk:
                continue  # nothing this time (e.g. no meter due for a read): no empty file or statement
            if fill:
                chunk = [row if "_update" in row else fill(row) for row in chunk]
            tally.count(sink.write(chunk))
        updated = 0
        if ctx.updates:
            skip = {identity for ids in (previous or {}).get("defects", {}).values() for identity in ids}
            # A later step's update must not overwrite an injected conflict (the manifest lists it).
            skip |= {conflict["key"] for conflict in (previous or {}).get("conflicts", [])}
            mutate = MUTATORS.get(resource.id, generic.default_mutator)(ctx)
            updated = len(sink.update(ctx.updates, skip, mutate))
    finally:
        sink.close()
    if previous:
        tally.merge(previous.get("defects", {}), previous["records"], previous.get("conflicts", []))
    config = resource.binding.config
    return {
        "system": resource.binding.system,
        "kind": kind,
        "object": config.get("table") or config.get("pattern") or config.get("endpoint") or config.get("topic_filter"),
        **tally.as_manifest(),
        "updated": (previous or {}).get("updated", 0) + updated,
    }


def _step_interval(previous: dict | None, step_hours: float | None) -> timedelta:
    """The step length: given at step 0 (default 1 h) and kept by later steps, so step K's time is
    always the base time plus K steps."""
    stored = previous.get("step_hours", STEP_INTERVAL / timedelta(hours=1)) if previous else None
    if step_hours is not None and not 0 < step_hours <= 24 * 366:
        raise SyntheticError(f"--step-hours {step_hours} must be more than 0 and at most a year of hours")
    if stored is not None and step_hours is not None and step_hours != stored:
        raise SyntheticError(
            f"the sources step by {stored:g} h (set at step 0); a later step cannot use --step-hours {step_hours:g}"
        )
    hours = step_hours if step_hours is not None else stored
    return timedelta(hours=hours) if hours is not None else STEP_INTERVAL


def _previous_manifest(scale: str, seed_value: int, step: int) -> dict | None:
    if step == 0:
        return None
    path = systems.manifest_path()
    if not path.exists():
        raise SyntheticError(
            f"--step {step} adds to existing sources, but {path} is missing: run "
            f"`hub seed --scale {scale} --seed {seed_value}` first"
        )
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if (manifest.get("scale"), manifest.get("seed")) != (scale, seed_value):
        raise SyntheticError(
            f"the sources were seeded with --scale {manifest.get('scale')} --seed {manifest.get('seed')}; "
            f"a later step must use the same (or re-seed from step 0)"
        )
    if step <= manifest.get("step", 0):
        raise SyntheticError(
            f"the sources are already at step {manifest.get('step', 0)}; use --step "
            f"{manifest.get('step', 0) + 1} (or re-seed from step 0)"
        )
    return manifest


def _clear_sources(resources: list) -> None:
    """Remove what an earlier seed left (only files this module writes)."""
    base = systems.sources_dir()
    for system in systems.SQL_SYSTEMS:
        if systems.source_url(system) == f"sqlite:///{base / f'{system}.sqlite'}":
            (base / f"{system}.sqlite").unlink(missing_ok=True)
    stores = [f"{system}.sqlite" for system in systems.HTTP_SYSTEMS]
    for name in (*stores, IOT_OUTBOX, "iot_outbox.published", "manifest.json"):
        (base / name).unlink(missing_ok=True)
    drop = systems.gis_drop_dir()
    for resource in resources:
        if resource.binding.kind != "file":
            continue
        pattern = str(resource.binding.config["pattern"])
        folder = (drop / pattern).parent
        stale = folder.glob(f"{resource.id}_*") if "*" in pattern else [drop / pattern]
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def _write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
