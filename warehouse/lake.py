"""The lake on disk: where a resource's Parquet files live, how they are named, and how one is
written so that a reader or a crash never sees half a file.

    <lake>/<domain>/<resource>/dt=YYYY-MM-DD/<topic>-<partition>-<first>-<last>.parquet

`dt` is the landing day in Shanghai time; `first`/`last` are the Kafka offsets the file covers
(records sent to the DLQ included), so a replayed range has the same name and overwrites it.
A file is written under a hidden `.tmp` name (no reader glob matches it), fsynced, then renamed.
Next to the data: `_loads/` (one manifest per load, for the catalogue events) and `.lock`.

The quality gate (warehouse.gate, judged by quality.judge) writes its verdict on each landed file into zones mirroring the
lake's layout: `_passed/<domain>/<resource>/dt=…/<same name>` (the repaired rows that passed,
which staging merges), `_quarantine/…` (rows failing a critical check, with the failed rules) and
`_findings/…` (every flagged or repaired row: key, check, outcome).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from catalog import reader, spec
from hub import clock
from hub.files import LockHeld, exclusive_lock, write_atomic
from hub.settings import get_settings
from hub.timezone import LOCAL_TZ
from warehouse.errors import LandingBusy, UnknownResource

log = logging.getLogger(__name__)
PARQUET_COMPRESSION = "zstd"
_FILE_NAME = re.compile(r"^(?P<topic>[a-z0-9._]+)-(?P<partition>\d+)-(?P<first>\d+)-(?P<last>\d+)\.parquet$")
_PENDING = ".pending.json"


class LakeFile(NamedTuple):
    """One landed Parquet file and the Kafka range it holds."""

    path: Path
    topic: str
    partition: int
    first: int
    last: int


# --- the catalogue entries the lake holds ----------------------------------------------------


def catalogue_resources(catalogue=None) -> list:
    """The resources of `catalogue` (a Catalogue, a list of resources, one resource, or None for the
    catalogue database)."""
    if catalogue is None:
        return reader.catalogue().resources
    if isinstance(catalogue, spec.Resource):
        return [catalogue]
    return list(getattr(catalogue, "resources", catalogue))


def resolve_resource(resource_id: str, catalogue=None):
    """The catalogue entry of `resource_id`; raises UnknownResource naming where it looked."""
    try:
        return reader.resolve(resource_id, catalogue)
    except reader.UnknownResource as exc:
        raise UnknownResource(str(exc)) from None


def lake_dir() -> Path:
    return get_settings().lake_dir


def resource_dir(resource) -> Path:
    """<lake>/<domain>/<resource id>: the folder of every file of the resource."""
    return lake_dir() / resource.domain / resource.id


def landing_day(moment: datetime | None = None) -> str:
    """The dt= partition value for a landing at `moment` (now): the Shanghai calendar day."""
    return (moment or clock.now()).astimezone(LOCAL_TZ).date().isoformat()


def file_name(topic: str, partition: int, first: int, last: int) -> str:
    return f"{topic}-{partition}-{first}-{last}.parquet"


def file_path(resource, topic: str, partition: int, first: int, last: int, day: str) -> Path:
    return resource_dir(resource) / f"dt={day}" / file_name(topic, partition, first, last)


def parse_file_name(name: str) -> tuple[str, int, int, int] | None:
    """(topic, partition, first, last) of a lake file name, or None for any other name."""
    match = _FILE_NAME.match(name)
    if match is None:
        return None
    return match["topic"], int(match["partition"]), int(match["first"]), int(match["last"])


ZONES = ("_passed", "_quarantine", "_findings")


def zone_dir(resource, zone: str) -> Path:
    """<lake>/<zone>/<domain>/<resource id>: the quality gate's files for the resource."""
    if zone not in ZONES:
        raise ValueError(f"unknown lake zone {zone!r}: one of {ZONES}")
    return lake_dir() / zone / resource.domain / resource.id


def zone_path(resource, zone: str, landed: Path) -> Path:
    """Where the gate's verdict on the landed file `landed` goes in `zone` (same dt= and name)."""
    return zone_dir(resource, zone) / Path(landed).parent.name / Path(landed).name


def list_files(resource, zone: str | None = None) -> list[LakeFile]:
    """Every landed file of the resource (or every file of a gate `zone`), ordered by partition and first offset."""
    found = []
    for path in (zone_dir(resource, zone) if zone else resource_dir(resource)).glob("dt=*/*.parquet"):
        parsed = parse_file_name(path.name)
        if parsed is not None:
            found.append(LakeFile(path, *parsed))
    return sorted(found, key=lambda f: (f.partition, f.first, f.last, str(f.path)))


def parquet_glob(resource) -> str:
    """The glob a raw view reads: landed files only (temp files end in .tmp)."""
    return str(resource_dir(resource) / "dt=*" / "*.parquet")


def relative(path: Path) -> str:
    """A lake path as it appears in events and meta.loads: relative to the lake folder."""
    return Path(path).resolve().relative_to(lake_dir().resolve()).as_posix()


def absolute(relative_path: str) -> Path:
    return lake_dir() / relative_path


def write_parquet_atomic(table: pa.Table, path: Path) -> int:
    """Write `table` as zstd Parquet at `path` via a temp name + fsync + rename; returns its size."""
    write_atomic(path, lambda temp: pq.write_table(table, temp, compression=PARQUET_COMPRESSION, write_statistics=True))
    return path.stat().st_size


def link_atomic(source: Path, path: Path) -> None:
    """Make `path` a hard link of the (immutable) file `source`, replacing `path` atomically: a
    verdict that is the landed file unchanged costs no second write. Files here are only ever
    replaced by rename, never rewritten in place, so the shared inode never changes under either name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        os.link(source, temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_temp_files(resource) -> int:
    """Delete temp files a killed landing left behind (only call with the resource lock held)."""
    removed = 0
    for temp in resource_dir(resource).glob("dt=*/.*.tmp"):
        temp.unlink(missing_ok=True)
        removed += 1
    return removed


@contextlib.contextmanager
def resource_lock(resource) -> Iterator[None]:
    """Hold the resource's landing lock; raises LandingBusy if another process holds it."""
    lock = resource_dir(resource) / ".lock"
    try:
        with exclusive_lock(lock, blocking=False):
            yield
    except LockHeld:
        raise LandingBusy(f"another landing of {resource.id} is running (lock {lock}); wait for it and retry") from None


# --- load manifests: what a load wrote, until its catalogue events are published --------------


def _manifest_dir(resource_id: str) -> Path:
    return lake_dir() / "_loads" / resource_id


def write_manifest(resource_id: str, load_id: str, data: dict, *, pending: bool) -> Path:
    """Store a load's result; `pending` until its offsets are committed."""
    folder = _manifest_dir(resource_id)
    folder.mkdir(parents=True, exist_ok=True)
    return write_atomic(
        folder / (load_id + (_PENDING if pending else ".json")), orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    )


def promote_manifest(resource_id: str, load_id: str) -> None:
    """The load's offsets are committed: its manifest is now a load waiting for its events."""
    folder = _manifest_dir(resource_id)
    pending = folder / (load_id + _PENDING)
    if pending.exists():
        os.replace(pending, folder / f"{load_id}.json")


def pending_manifests(resource_id: str) -> list[tuple[str, dict]]:
    """(load_id, data) of loads written but not known to be committed."""
    return _read_manifests(resource_id, _PENDING)


def unpublished_manifests(resource_id: str) -> list[tuple[str, dict]]:
    """(load_id, data) of committed loads whose events are not published yet, oldest first."""
    return _read_manifests(resource_id, ".json", exclude=_PENDING)


def drop_manifest(resource_id: str, load_id: str) -> None:
    folder = _manifest_dir(resource_id)
    for suffix in (".json", _PENDING):
        (folder / (load_id + suffix)).unlink(missing_ok=True)


def _read_manifests(resource_id: str, suffix: str, exclude: str | None = None) -> list[tuple[str, dict]]:
    folder = _manifest_dir(resource_id)
    found = []
    for path in sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else ():
        if path.name.startswith(".") or (exclude and path.name.endswith(exclude)):
            continue
        try:
            found.append((path.name[: -len(suffix)], orjson.loads(path.read_bytes())))
        except (OSError, orjson.JSONDecodeError):
            log.warning("dropping unreadable load manifest %s", path)
            path.unlink(missing_ok=True)
    return found
