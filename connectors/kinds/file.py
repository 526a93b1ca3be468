"""The `file` kind: GIS files in the drop folder (GeoJSON FeatureCollections and GeoPackages), each
file read once, identified by the SHA-256 of its content (a rewritten file is a new file).

Geometry is carried as WKT in the item `geometry` (or `geom_wkt`, `geom`) with its CRS in the item `crs`
("EPSG:4490"); no GDAL: GeoPackage blobs are decoded by `geometry.gpkg_to_wkt`.
State: {"files": {sha256: {"name", "rows"}}, "partial": {"sha256", "name", "row"}} — a file cut off
mid-way resumes after its last delivered feature.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson

from connectors.base import Advance, BaseSource, SourceItem, SourceRecord, Unreadable
from connectors.errors import BindingError
from connectors.kinds.geometry import GeometryError, geojson_to_wkt, gpkg_to_wkt
from connectors.kinds.sqlite_text import TextDecoder, portable_json
from connectors.systems import gis_drop_dir

GEOMETRY_ITEMS = ("geometry", "geom_wkt", "geom")  # the item that carries the WKT, first found
# A DLQ message stays far below Kafka's message limit; the file itself stays in the drop folder.
MAX_RAW_BYTES = 1_000_000
_EPSG = re.compile(r"EPSG:{1,2}(?:[\d.]*:)?(\d+)$", re.IGNORECASE)


def normalise_crs(name: str | int | None) -> str | None:
    """'urn:ogc:def:crs:EPSG::4490' / 'EPSG:4490' / 4490 → 'EPSG:4490'; CRS84 → 'OGC:CRS84'."""
    if name is None or name == "":
        return None
    name = str(name)
    if name.isdigit():
        return f"EPSG:{name}"
    match = _EPSG.search(name)
    if match:
        return f"EPSG:{match.group(1)}"
    return "OGC:CRS84" if name.upper().endswith("CRS84") else name


class FileSource(BaseSource):
    kind = "file"
    required_config = ("pattern",)

    def __init__(self, resource, binding):
        super().__init__(resource, binding)
        names = [item.name for item in resource.items]
        self.geometry_item = next((name for name in GEOMETRY_ITEMS if name in names), None)
        self.crs_item = "crs" if "crs" in names else None
        self.property_items = [n for n in names if n not in (self.geometry_item, self.crs_item)]
        self.default_crs = normalise_crs(self.config.get("crs")) or "EPSG:4326"  # RFC 7946's default

    @property
    def object_name(self) -> str:
        return self.config["pattern"]

    def drop_dir(self) -> Path:
        return gis_drop_dir()

    def read(self, state: dict) -> Iterator[SourceItem]:
        done = state.get("files", {})
        partial = state.get("partial") or {}
        for path in sorted(self.drop_dir().glob(self.config["pattern"])):
            if not path.is_file() or path.name.startswith("."):
                continue  # dot-files are a writer's temporaries, renamed into place when complete
            content = path.read_bytes()
            digest = hashlib.sha256(content).hexdigest()
            if digest in done:
                continue
            resume_after = partial.get("row", -1) if partial.get("sha256") == digest else -1
            yield from self._read_file(path, content, digest, resume_after)

    def advance(self, state: dict, position) -> None:
        digest, name, row, last = position
        if last:
            state.setdefault("files", {})[digest] = {"name": name, "rows": row + 1}
            state.pop("partial", None)
        else:
            state["partial"] = {"sha256": digest, "name": name, "row": row}

    # ---- one file ---------------------------------------------------------------------------------

    def _read_file(self, path: Path, content: bytes, digest: str, resume_after: int) -> Iterator[SourceItem]:
        reader = self._geopackage if path.suffix.lower() == ".gpkg" else self._geojson
        try:
            count, items = reader(path, content)
        except GeometryError as exc:  # the file as a whole is unreadable: DLQ it once, never retry it
            yield Unreadable(content[:MAX_RAW_BYTES], f"{path.name}: {exc}", (digest, path.name, 0, True))
            return
        last = count - 1
        if resume_after >= last:  # an empty file, or one cut off right after its last feature
            yield Advance((digest, path.name, last, True))
            return
        yield from items(resume_after + 1, lambda row: (digest, path.name, row, row == last))

    def _record(self, properties: dict, wkt: str, crs: str):
        value = {name: properties.get(name) for name in self.property_items}
        if self.geometry_item:
            value[self.geometry_item] = wkt
        if self.crs_item:
            value[self.crs_item] = crs
        return value

    # Readers return (feature count, items(start, position_of)): the count up front (the last
    # feature's position marks the file done), the features lazily (a big file is never all in memory
    # as records at once).

    def _geojson(self, path: Path, content: bytes):
        try:
            collection = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise GeometryError(f"not JSON ({exc}); was the file copied completely?") from None
        if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
            raise GeometryError("not a GeoJSON FeatureCollection")
        features = collection.get("features")
        if not isinstance(features, list):
            raise GeometryError("FeatureCollection without a 'features' list")
        declared = ((collection.get("crs") or {}).get("properties") or {}).get("name")
        crs = normalise_crs(declared) or self.default_crs

        def items(start: int, position_of) -> Iterator[SourceItem]:
            for index in range(start, len(features)):
                yield self._feature(path.name, index, features[index], crs, position_of(index))

        return len(features), items

    def _feature(self, name: str, index: int, feature, crs: str, position) -> SourceItem:
        where = f"{name} feature {index}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return Unreadable(orjson.dumps(feature), f"{where}: not a GeoJSON Feature", position)
        if feature.get("geometry") is None:
            return Unreadable(orjson.dumps(feature), f"{where}: has no geometry", position)
        try:
            wkt = geojson_to_wkt(feature["geometry"])
        except GeometryError as exc:
            return Unreadable(orjson.dumps(feature), f"{where}: {exc}", position)
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            return Unreadable(orjson.dumps(feature), f"{where}: properties is not an object", position)
        return SourceRecord(self._record(properties, wkt, crs), position)

    def _geopackage(self, path: Path, content: bytes):
        db = _open_gpkg(path)
        try:
            layer, column, layer_srs = self._layer(db, path)
            crs_of = _crs_lookup(db)
            count = db.execute(f"SELECT count(*) FROM {_quote(layer)}").fetchone()[0]
        except sqlite3.Error as exc:
            raise GeometryError(f"not a readable GeoPackage ({exc})") from None
        finally:
            db.close()
        layer_crs = crs_of(layer_srs)

        def items(start: int, position_of) -> Iterator[SourceItem]:
            for index, row in self._gpkg_rows(path, layer, start):
                yield self._gpkg_item(path.name, index, row, column, layer_crs, crs_of, position_of(index))

        return count, items

    def _gpkg_rows(self, path: Path, layer: str, start: int) -> Iterator[tuple[int, dict]]:
        """(index, row) from `start` on; TEXT that is not UTF-8 switches to decoding it as BadText,
        which the runner rejects row by row."""
        index, tolerant = start, False
        while True:
            db = _open_gpkg(path, TextDecoder() if tolerant else None)
            try:
                cursor = db.execute(f"SELECT * FROM {_quote(layer)} ORDER BY rowid LIMIT -1 OFFSET ?", (index,))
                names = [d[0] for d in cursor.description]
                for row in cursor:
                    yield index, dict(zip(names, row))
                    index += 1
                return
            except sqlite3.OperationalError as exc:
                if tolerant or "decode" not in str(exc):
                    raise BindingError(
                        f"{path.name} broke off after row {index} ({exc}); replace the file in the "
                        f"drop folder (it will be read as a new file)"
                    ) from None
                tolerant = True
            finally:
                db.close()

    def _layer(self, db: sqlite3.Connection, path: Path) -> tuple[str, str, int]:
        wanted = self.config.get("layer")
        layers = {
            row[0]: (row[1], row[2])
            for row in db.execute(
                "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c "
                "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name WHERE c.data_type = 'features'"
            )
        }
        if not layers:
            raise GeometryError("GeoPackage has no feature layer")
        if wanted and wanted not in layers:
            raise BindingError(
                f"resource {self.resource.id!r}: layer {wanted!r} is not in {path.name} (layers: {', '.join(sorted(layers))}); "
                f"fix binding.config.layer"
            )
        name = wanted or sorted(layers)[0]
        return name, *layers[name]

    def _gpkg_item(self, name: str, index: int, row: dict, column: str, layer_crs: str, crs_of, position) -> SourceItem:
        where = f"{name} row {index}"
        blob = row.get(column)
        if blob is None:
            return Unreadable(portable_json(row), f"{where}: has no geometry", position)
        try:
            wkt, srs_id = gpkg_to_wkt(blob)
        except GeometryError as exc:
            return Unreadable(portable_json(row), f"{where}: {exc}", position)
        return SourceRecord(self._record(row, wkt, crs_of(srs_id) or layer_crs), position)


def _open_gpkg(path: Path, text_factory=None) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise GeometryError(f"cannot open as SQLite ({exc})") from None
    if text_factory is not None:
        db.text_factory = text_factory
    return db


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _crs_lookup(db: sqlite3.Connection):
    """srs_id → 'EPSG:4490' from gpkg_spatial_ref_sys (read once per file)."""
    table = {
        srs_id: f"{organization.upper()}:{code}"
        for srs_id, organization, code in db.execute(
            "SELECT srs_id, organization, organization_coordsys_id FROM gpkg_spatial_ref_sys"
        )
        if organization and organization.upper() != "NONE"  # srs_id 0 / -1: "undefined" in the spec
    }
    return lambda srs_id: table.get(srs_id)
