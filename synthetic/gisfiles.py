"""GIS files for the drop folder, written with the standard library only (no GDAL):
GeoJSON FeatureCollections with a declared CRS, and real GeoPackages (OGC 12-128r18: the
gpkg_* tables, GeoPackage binary geometry = 'GP' header + envelope + WKB).

Geometries are GeoJSON-style dicts ({"type": "Point" | "Polygon", "coordinates": ...}) in the
file's CRS; `project_4547` turns CGCS2000 lon/lat into EPSG:4547 metres.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from quality import geo

CRS_URN = "urn:ogc:def:crs:EPSG::{}"
_GEOGCS_4490 = (
    'GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,'
    '298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]]'
)
SRS_DEFINITIONS = {
    4490: ("China Geodetic Coordinate System 2000", _GEOGCS_4490),
    4547: (
        "CGCS2000 / 3-degree Gauss-Kruger CM 114E",
        f'PROJCS["CGCS2000 / 3-degree Gauss-Kruger CM 114E",{_GEOGCS_4490},PROJECTION["Transverse_Mercator"],'
        'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",114],PARAMETER["scale_factor",1],'
        'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],'
        'AUTHORITY["EPSG","4547"]]',
    ),
    4326: (
        "WGS 84 geodetic",
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
        'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]',
    ),
}
_WKB_TYPES = {"Point": 1, "LineString": 2, "Polygon": 3, "MultiPolygon": 6}
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10400  # GeoPackage 1.4.0


def project_4547(lon: float, lat: float) -> tuple[float, float]:
    """CGCS2000 lon/lat (degrees) → EPSG:4547 (easting, northing) metres, to the millimetre."""
    easting, northing = geo.project_4547(lon, lat)
    return round(float(easting), 3), round(float(northing), 3)


class Projector:
    """Points waiting for a conversion (EPSG:4547 metres to the millimetre, or a GCJ-02 shift to
    7 decimals), converted together when a chunk is done: one numpy call per point costs ~90 µs,
    one call per chunk well under 1 µs a point, with the very same floats."""

    def __init__(self, convert: Callable = geo.project_4547, digits: int = 3) -> None:
        self.convert, self.digits = convert, digits
        self._pending: list[tuple[list, bool]] = []

    def defer(self, lon: float, lat: float, *, swapped: bool = False) -> list:
        """A [lon, lat] list that `flush` turns into [x, y] ([y, x] if swapped)."""
        pair = [lon, lat]
        self._pending.append((pair, swapped))
        return pair

    def flush(self) -> None:
        """Convert every deferred pair in place."""
        if not self._pending:
            return
        pairs = [pair for pair, _ in self._pending]
        xs, ys = self.convert(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
        for (pair, swapped), x, y in zip(self._pending, xs.tolist(), ys.tolist()):
            x, y = round(x, self.digits), round(y, self.digits)
            pair[:] = (y, x) if swapped else (x, y)
        self._pending = []


def crs_member(epsg: int) -> dict:
    """The GeoJSON (2008) named-CRS member the drop folder's files declare."""
    return {"type": "name", "properties": {"name": CRS_URN.format(epsg)}}


#: What json.dumps(…, ensure_ascii=False, separators=(",", ":")) builds anew for every call.
_FEATURE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class GeoJsonWriter:
    """A FeatureCollection streamed to `path` (written to a temp name, renamed on close)."""

    def __init__(self, path: Path, name: str, epsg: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.tmp, self.count = path, path.with_suffix(path.suffix + ".tmp"), 0
        self.out = self.tmp.open("w", encoding="utf-8", newline="\n")
        head = {"type": "FeatureCollection", "name": name, "crs": crs_member(epsg)}
        self.out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n')

    def add(self, features: Iterable[dict]) -> int:
        """Append features ({"properties", "geometry"}; a feature without "geometry" has no such member)."""
        added = 0
        for feature in features:
            body = {"type": "Feature", "properties": feature["properties"]}
            if "geometry" in feature:
                body["geometry"] = feature["geometry"]
            self.out.write((",\n" if self.count else "") + _FEATURE_JSON.encode(body))
            self.count += 1
            added += 1
        return added

    def close(self) -> None:
        self.out.write("\n]}\n")
        self.out.close()
        self.tmp.replace(self.path)


def write_geojson(path: Path, name: str, epsg: int, features: Iterable[dict]) -> int:
    """One whole FeatureCollection file; returns the number of features."""
    writer = GeoJsonWriter(path, name, epsg)
    count = writer.add(features)
    writer.close()
    return count


# ---- WKB and GeoPackage binary ------------------------------------------------------------------


def wkb(geometry: dict) -> bytes:
    """ISO WKB (little endian, 2D) of a Point / LineString / Polygon / MultiPolygon dict."""
    kind, coords = geometry["type"], geometry["coordinates"]
    head = struct.pack("<BI", 1, _WKB_TYPES[kind])
    if kind == "Point":
        return head + struct.pack("<2d", *coords)
    if kind == "LineString":
        return head + _points(coords)
    if kind == "Polygon":
        return head + struct.pack("<I", len(coords)) + b"".join(_points(ring) for ring in coords)
    return head + struct.pack("<I", len(coords)) + b"".join(wkb({"type": "Polygon", "coordinates": p}) for p in coords)


def _points(points) -> bytes:
    return struct.pack("<I", len(points)) + b"".join(struct.pack("<2d", x, y) for x, y in points)


def _all_points(geometry: dict) -> list:
    coords = geometry["coordinates"]
    depth = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}[geometry["type"]]
    points = [coords]
    for _ in range(depth):
        points = [p for group in points for p in group]
    return points


def envelope(geometry: dict) -> tuple[float, float, float, float]:
    """(min_x, max_x, min_y, max_y)."""
    xs, ys = zip(*_all_points(geometry))
    return min(xs), max(xs), min(ys), max(ys)


def gpkg_geometry(geometry: dict, srs_id: int, box: tuple[float, float, float, float] | None = None) -> bytes:
    """GeoPackage binary: magic 'GP', version 0, flags (little endian, xy envelope unless a point);
    `box` is the geometry's envelope if the caller has it already."""
    if geometry["type"] == "Point":
        return b"GP" + struct.pack("<BBi", 0, 0b00000001, srs_id) + wkb(geometry)
    flags = 0b00000011  # envelope type 1 ([minx, maxx, miny, maxy]) + little-endian header
    return b"GP" + struct.pack("<BBi4d", 0, flags, srs_id, *(box or envelope(geometry))) + wkb(geometry)


class GpkgWriter:
    """A fresh GeoPackage with one feature table (fid, geom, attribute columns)."""

    def __init__(
        self, path: Path, table: str, epsg: int, geometry_type: str, columns: dict[str, str], last_change: str
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.table, self.epsg, self.columns = table, epsg, list(columns)
        self.extent = [math.inf, math.inf, -math.inf, -math.inf]  # min_x, min_y, max_x, max_y
        self.db = db = sqlite3.connect(path)
        db.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        db.executescript(_GPKG_SCHEMA)
        srs_rows = [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
        ]
        for srs_id in sorted({4326, epsg}):
            name, definition = SRS_DEFINITIONS[srs_id]
            srs_rows.append((name, srs_id, "EPSG", srs_id, definition, None))
        db.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", srs_rows)
        attributes = "".join(f', "{name}" {kind}' for name, kind in columns.items())
        db.execute(
            f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geometry_type.upper()}{attributes})'
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
            "VALUES (?, 'features', ?, '', ?, ?)",
            (table, table, last_change, epsg),
        )
        db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, geometry_type.upper(), epsg)
        )

    def add(self, features: Iterable[dict]) -> int:
        """Insert features ({"properties", "geometry"} or a raw "geom_blob" for broken rows)."""
        rows = []
        for feature in features:
            geometry = feature.get("geometry")
            blob = feature.get("geom_blob")
            if blob is None and geometry is not None:
                box = envelope(geometry)
                blob = gpkg_geometry(geometry, self.epsg, box)
                min_x, max_x, min_y, max_y = box
                self.extent = [
                    min(self.extent[0], min_x),
                    min(self.extent[1], min_y),
                    max(self.extent[2], max_x),
                    max(self.extent[3], max_y),
                ]
            rows.append((blob, *(feature["properties"].get(c) for c in self.columns)))
        marks = ", ".join("?" * (len(self.columns) + 1))
        names = "".join(f', "{c}"' for c in self.columns)
        self.db.executemany(f'INSERT INTO "{self.table}" (geom{names}) VALUES ({marks})', rows)
        return len(rows)

    def close(self) -> None:
        """Record the layer's extent in gpkg_contents, commit and close (nothing was deleted: no VACUUM)."""
        extent = self.extent if math.isfinite(self.extent[0]) else [None] * 4
        self.db.execute(
            "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
            (*extent, self.table),
        )
        self.db.commit()
        self.db.close()


_GPKG_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""
