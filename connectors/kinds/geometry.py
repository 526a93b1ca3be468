"""Geometry without GDAL: WKB (ISO and PostGIS EWKB) and GeoJSON geometries → WKT, and the
GeoPackage binary header (GP + version + flags + srs_id + envelope, then WKB).

Covers the OGC simple features the GIS drop uses: Point, LineString, Polygon, their Multi* forms
and GeometryCollection, in 2D, Z, M and ZM. Anything else raises `GeometryError` naming the problem.
"""

from __future__ import annotations

import math
import re
import struct

import orjson

from connectors.errors import UnreadableRow

TYPE_NAMES = {
    1: "POINT",
    2: "LINESTRING",
    3: "POLYGON",
    4: "MULTIPOINT",
    5: "MULTILINESTRING",
    6: "MULTIPOLYGON",
    7: "GEOMETRYCOLLECTION",
}
GEOJSON_TYPES = {
    "Point": 1,
    "LineString": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}
# GeoPackage envelope indicator (flags bits 1-3) → envelope length in bytes.
GPKG_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_EWKB_Z, _EWKB_M, _EWKB_SRID = 0x80000000, 0x40000000, 0x20000000
_INTEGRAL = re.compile(r"\.0(?=[ ,)])")  # a coordinate's repr ending in ".0", in WKT: "392000.0 " → "392000 "


class GeometryError(UnreadableRow):
    """A geometry that cannot be decoded; the feature goes to the DLQ with this reason."""


def number(value: float) -> str:
    """Shortest text that reads back as the same float; integral values without '.0'."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _tag(type_code: int, has_z: bool, has_m: bool) -> str:
    dims = ("Z" if has_z else "") + ("M" if has_m else "")
    return f"{TYPE_NAMES[type_code]} {dims}".rstrip()


# ---- WKB --------------------------------------------------------------------------------------------


class _WkbReader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.offset = 0

    def take(self, fmt: str):
        try:
            values = struct.unpack_from(fmt, self.data, self.offset)
        except struct.error:
            raise GeometryError(f"WKB ends early at byte {self.offset} of {len(self.data)}") from None
        self.offset += struct.calcsize(fmt)
        return values

    def geometry(self) -> str:
        order = self.take("B")[0]
        if order not in (0, 1):
            raise GeometryError(f"bad WKB byte-order mark {order} at byte {self.offset - 1}")
        endian = "<" if order == 1 else ">"
        code = self.take(endian + "I")[0]
        has_z, has_m = bool(code & _EWKB_Z), bool(code & _EWKB_M)
        if code & _EWKB_SRID:
            self.take(endian + "I")  # the SRID itself: the GeoPackage header or the layer states the CRS
        code &= 0x0FFFFFFF
        iso_dims, type_code = divmod(code, 1000)
        if iso_dims not in (0, 1, 2, 3) or type_code not in TYPE_NAMES:
            raise GeometryError(f"WKB geometry type {code} is not a simple feature this reader knows")
        has_z = has_z or iso_dims in (1, 3)
        has_m = has_m or iso_dims in (2, 3)
        dims = 2 + has_z + has_m
        body = self._body(type_code, endian, dims)
        return f"{_tag(type_code, has_z, has_m)} {body}"

    def _points(self, endian: str, dims: int) -> str:
        """A point sequence as WKT: '(x y, x y, …)', or 'EMPTY'."""
        count = self.take(endian + "I")[0]
        if count * dims * 8 > len(self.data) - self.offset:
            raise GeometryError(f"WKB claims {count} points but only {len(self.data) - self.offset} bytes remain")
        if not count:
            return "EMPTY"
        flat = self.take(f"{endian}{count * dims}d")
        # orjson writes the same shortest round-trip digits as repr, ten times faster (the GIS drop's
        # hot path); it only writes some values differently: exponents, below 1e-4, NaN (null).
        raw = orjson.dumps(flat)
        if b"e" in raw or b"n" in raw or b"0.0000" in raw:  # 1e+16, null, 0.00001 (repr: 1e-05)
            texts = list(map(repr, flat))
        else:
            texts = raw[1:-1].decode().split(",")
        return "(" + ", ".join(map(" ".join, zip(*(texts[d::dims] for d in range(dims))))) + ")"

    def _body(self, type_code: int, endian: str, dims: int) -> str:
        if type_code == 1:
            point = self.take(f"{endian}{dims}d")
            return "EMPTY" if all(math.isnan(v) for v in point) else "(" + " ".join(map(repr, point)) + ")"
        if type_code == 2:
            return self._points(endian, dims)
        if type_code == 3:
            rings = [self._points(endian, dims) for _ in range(self.take(endian + "I")[0])]
            return "(" + ", ".join(rings) + ")" if rings else "EMPTY"
        parts = [self._member(type_code) for _ in range(self.take(endian + "I")[0])]
        return "(" + ", ".join(parts) + ")" if parts else "EMPTY"

    def _member(self, collection_code: int) -> str:
        wkt = self.geometry()
        if collection_code == 7:
            return wkt
        # Members of Multi* are written without their own type tag: MULTIPOINT ((1 2), (3 4)).
        return wkt.split(" ", 1)[1].lstrip("ZM ") if " " in wkt else wkt


def wkb_to_wkt(data: bytes) -> str:
    """WKT of one WKB (or EWKB) geometry; raises GeometryError on malformed input or trailing bytes."""
    reader = _WkbReader(bytes(data))
    wkt = reader.geometry()
    if reader.offset != len(reader.data):
        raise GeometryError(f"{len(reader.data) - reader.offset} unexpected bytes after the WKB geometry")
    return _INTEGRAL.sub("", wkt)  # as `number` writes each coordinate, in one pass


def gpkg_to_wkb(blob: bytes) -> tuple[bytes, int]:
    """(WKB, srs_id) of a GeoPackage geometry blob (spec §2.1.3); raises GeometryError."""
    blob = bytes(blob)
    if len(blob) < 8 or blob[:2] != b"GP":
        raise GeometryError("not a GeoPackage geometry: the blob does not start with 'GP'")
    flags = blob[3]
    if flags & 0b100000:
        raise GeometryError("GeoPackage ExtendedGeometry (flags bit 5) is not a standard geometry")
    envelope = (flags >> 1) & 0b111
    if envelope not in GPKG_ENVELOPE_BYTES:
        raise GeometryError(f"GeoPackage envelope indicator {envelope} is invalid (0–4 allowed)")
    srs_id = struct.unpack_from("<i" if flags & 1 else ">i", blob, 4)[0]
    return blob[8 + GPKG_ENVELOPE_BYTES[envelope] :], srs_id


def gpkg_to_wkt(blob: bytes) -> tuple[str, int]:
    """(WKT, srs_id) of a GeoPackage geometry blob."""
    wkb, srs_id = gpkg_to_wkb(blob)
    return wkb_to_wkt(wkb), srs_id


# ---- GeoJSON ----------------------------------------------------------------------------------------


def geojson_to_wkt(geometry: dict) -> str:
    """WKT of a GeoJSON geometry object; raises GeometryError naming what is malformed."""
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOJSON_TYPES:
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise GeometryError(f"geometry type {kind!r} is not one of {', '.join(GEOJSON_TYPES)}")
    type_code = GEOJSON_TYPES[geometry["type"]]
    if type_code == 7:
        members = geometry.get("geometries")
        if not isinstance(members, list):
            raise GeometryError("GeometryCollection without a 'geometries' list")
        body = "(" + ", ".join(geojson_to_wkt(m) for m in members) + ")" if members else "EMPTY"
        return f"GEOMETRYCOLLECTION {body}"
    coordinates = geometry.get("coordinates")
    if coordinates is None or coordinates == []:
        return f"{TYPE_NAMES[type_code]} EMPTY"
    dims: set[int] = set()
    if type_code == 1:
        body = "(" + _position(coordinates, dims) + ")"
    elif type_code == 4:  # MULTIPOINT ((x y), (x y))
        body = "(" + ", ".join("(" + _position(p, dims) + ")" for p in _members(coordinates)) + ")"
    else:
        body = _nested(coordinates, {2: 1, 3: 2, 5: 2, 6: 3}[type_code], dims)
    if len(dims) > 1:
        raise GeometryError("positions of one geometry mix 2D and 3D")
    return f"{_tag(type_code, dims.pop() >= 3, False)} {body}"


def _members(coordinates) -> list:
    if type(coordinates) is not list:
        raise GeometryError(f"coordinates {str(coordinates)[:60]} are not a list")
    return coordinates


def _position(position, dims: set[int]) -> str:
    """'x y' of a GeoJSON position, checked: 2–4 finite numbers (bools are not numbers)."""
    if (
        type(position) is not list
        or not 2 <= len(position) <= 4
        or not all(type(v) in (float, int) and math.isfinite(v) for v in position)
    ):
        raise GeometryError(f"position {str(position)[:60]} is not a list of 2–4 finite numbers")
    dims.add(len(position))
    return " ".join(map(number, position))


def _nested(coordinates, depth: int, dims: set[int]) -> str:
    """'(…)' of positions nested `depth` lists deep (1: a line, 2: rings, 3: polygons)."""
    members = _members(coordinates)
    if depth == 1:
        return "(" + ", ".join([_position(p, dims) for p in members]) + ")" if members else "EMPTY"
    return "(" + ", ".join([_nested(m, depth - 1, dims) for m in members]) + ")" if members else "EMPTY"
