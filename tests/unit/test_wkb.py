"""The GDAL-free geometry readers: WKB / EWKB / GeoPackage blobs and GeoJSON → WKT."""

import random
import struct

import pytest

from connectors.kinds.geometry import GeometryError, geojson_to_wkt, gpkg_to_wkt, number, wkb_to_wkt


def le(fmt: str, *values) -> bytes:
    return struct.pack("<" + fmt, *values)


def point_wkb(x, y, order="<") -> bytes:
    return struct.pack(order + "BI2d", 1 if order == "<" else 0, 1, x, y)


def test_point_little_and_big_endian():
    assert wkb_to_wkt(point_wkb(113.25, 22.84)) == "POINT (113.25 22.84)"
    assert wkb_to_wkt(point_wkb(113.25, 22.84, ">")) == "POINT (113.25 22.84)"


def test_integral_coordinates_have_no_trailing_zero():
    assert wkb_to_wkt(point_wkb(392000.0, 2530000.5)) == "POINT (392000 2530000.5)"


def test_linestring_and_polygon_with_hole():
    line = le("BII4d", 1, 2, 2, 0, 0, 1, 1)
    assert wkb_to_wkt(line) == "LINESTRING (0 0, 1 1)"
    outer = [(0, 0), (4, 0), (4, 4), (0, 0)]
    hole = [(1, 1), (2, 1), (2, 2), (1, 1)]
    ring = lambda pts: le("I", len(pts)) + b"".join(le("2d", *p) for p in pts)  # noqa: E731
    polygon = le("BII", 1, 3, 2) + ring(outer) + ring(hole)
    assert wkb_to_wkt(polygon) == "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))"


def test_multi_geometries_and_collection():
    multipoint = le("BII", 1, 4, 2) + point_wkb(1, 2) + point_wkb(3, 4)
    assert wkb_to_wkt(multipoint) == "MULTIPOINT ((1 2), (3 4))"
    triangle = le("BIII", 1, 3, 1, 4) + b"".join(le("2d", *p) for p in [(0, 0), (1, 0), (0, 1), (0, 0)])
    assert wkb_to_wkt(le("BII", 1, 6, 2) + triangle + triangle) == (
        "MULTIPOLYGON (((0 0, 1 0, 0 1, 0 0)), ((0 0, 1 0, 0 1, 0 0)))"
    )
    line = le("BII4d", 1, 2, 2, 0, 0, 1, 1)
    assert wkb_to_wkt(le("BII", 1, 5, 1) + line) == "MULTILINESTRING ((0 0, 1 1))"
    assert wkb_to_wkt(le("BII", 1, 7, 2) + point_wkb(1, 2) + line) == (
        "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))"
    )


def test_iso_z_and_ewkb_with_srid():
    assert wkb_to_wkt(le("BI3d", 1, 1001, 1, 2, 3)) == "POINT Z (1 2 3)"
    assert wkb_to_wkt(le("BI4d", 1, 3001, 1, 2, 3, 4)) == "POINT ZM (1 2 3 4)"
    ewkb = le("BII3d", 1, 0x80000000 | 0x20000000 | 1, 4490, 1, 2, 3)
    assert wkb_to_wkt(ewkb) == "POINT Z (1 2 3)"
    multi_z = le("BII", 1, 1004, 1) + le("BI3d", 1, 1001, 1, 2, 3)
    assert wkb_to_wkt(multi_z) == "MULTIPOINT Z ((1 2 3))"


def test_empty_point_and_empty_collection():
    assert wkb_to_wkt(point_wkb(float("nan"), float("nan"))) == "POINT EMPTY"
    assert wkb_to_wkt(le("BII", 1, 6, 0)) == "MULTIPOLYGON EMPTY"


@pytest.mark.parametrize(
    "blob, problem",
    [
        (b"", "ends early"),
        (point_wkb(1, 2)[:-3], "ends early"),
        (point_wkb(1, 2) + b"\x00", "unexpected bytes"),
        (b"\x07" + point_wkb(1, 2)[1:], "byte-order"),
        (le("BI2d", 1, 99, 1, 2), "type 99"),
        (le("BII", 1, 2, 10_000_000), "claims"),
    ],
)
def test_malformed_wkb_is_reported(blob, problem):
    with pytest.raises(GeometryError, match=problem):
        wkb_to_wkt(blob)


def test_geopackage_header_with_envelope_and_srs():
    wkb = le("BII4d", 1, 2, 2, 0, 0, 1, 1)
    blob = b"GP" + struct.pack("<BBi4d", 0, 0b011, 4547, 0, 1, 0, 1) + wkb
    assert gpkg_to_wkt(blob) == ("LINESTRING (0 0, 1 1)", 4547)
    big_endian_header = b"GP" + struct.pack(">BBi", 0, 0b000, 4490) + point_wkb(1, 2)
    assert gpkg_to_wkt(big_endian_header) == ("POINT (1 2)", 4490)


@pytest.mark.parametrize(
    "blob, problem",
    [
        (b"XX\x00\x01\x00\x00\x00\x00", "'GP'"),
        (b"GP\x00" + bytes([0b1011]) + b"\x00" * 4, "envelope indicator 5"),
        (b"GP\x00" + bytes([0b100001]) + b"\x00" * 4, "Extended"),
    ],
)
def test_malformed_geopackage_blob(blob, problem):
    with pytest.raises(GeometryError, match=problem):
        gpkg_to_wkt(blob)


def test_geojson_geometries():
    assert geojson_to_wkt({"type": "Point", "coordinates": [113.25, 22.84]}) == "POINT (113.25 22.84)"
    assert geojson_to_wkt({"type": "Point", "coordinates": [1, 2, 3]}) == "POINT Z (1 2 3)"
    assert geojson_to_wkt({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}) == "LINESTRING (0 0, 1 1)"
    assert geojson_to_wkt({"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]}) == "MULTIPOINT ((0 0), (1 1))"
    polygon = [[[0, 0], [1, 0], [0, 1], [0, 0]]]
    assert geojson_to_wkt({"type": "Polygon", "coordinates": polygon}) == "POLYGON ((0 0, 1 0, 0 1, 0 0))"
    assert geojson_to_wkt({"type": "MultiPolygon", "coordinates": [polygon]}) == "MULTIPOLYGON (((0 0, 1 0, 0 1, 0 0)))"
    collection = {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1, 2]}]}
    assert geojson_to_wkt(collection) == "GEOMETRYCOLLECTION (POINT (1 2))"
    assert geojson_to_wkt({"type": "Polygon", "coordinates": []}) == "POLYGON EMPTY"


@pytest.mark.parametrize(
    "geometry, problem",
    [
        ({"type": "Circle", "coordinates": [0, 0]}, "Circle"),
        ({"type": "Point", "coordinates": ["a", 1]}, "finite numbers"),
        ({"type": "Polygon", "coordinates": [[0, 0], [1, 1]]}, "not nested|finite numbers"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1, 1]]}, "mix 2D and 3D"),
        ({"type": "GeometryCollection"}, "geometries"),
        ("POINT (1 2)", "str"),
    ],
)
def test_malformed_geojson_geometry(geometry, problem):
    with pytest.raises(GeometryError, match=problem):
        geojson_to_wkt(geometry)


def test_wkb_written_by_the_synthetic_gis_drop_reads_back():
    gisfiles = pytest.importorskip("synthetic.gisfiles")
    polygon = {"type": "Polygon", "coordinates": [[[113.2, 22.8], [113.3, 22.8], [113.3, 22.9], [113.2, 22.8]]]}
    wkt, srs_id = gpkg_to_wkt(gisfiles.gpkg_geometry(polygon, 4490))
    assert (wkt, srs_id) == ("POLYGON ((113.2 22.8, 113.3 22.8, 113.3 22.9, 113.2 22.8))", 4490)
    assert wkt == geojson_to_wkt(polygon)


def test_every_coordinate_is_written_as_number_writes_it():
    """The sequences are written in one join each and '.0' dropped in one pass over the WKT: the same
    text as writing each coordinate with `number` (integral, negative zero, exponents, NaN)."""
    rng = random.Random(7)
    special = [0.0, -0.0, 1e16, 1e-05, 123456789012345.0, 2.5e-300, float("nan"), 392000.0, -7.0]

    def value() -> float:
        return rng.choice(special) if rng.random() < 0.3 else round(rng.uniform(-1e6, 1e6), rng.randint(0, 12))

    for _ in range(300):
        dims = rng.choice([2, 3])
        rings = [[[value() for _ in range(dims)] for _ in range(rng.randint(0, 5))] for _ in range(rng.randint(0, 3))]
        wkb = le("BII", 1, 3 + (1000 if dims == 3 else 0), len(rings))
        for ring in rings:
            wkb += le("I", len(ring)) + b"".join(le(f"{dims}d", *p) for p in ring)
        texts = ["(" + ", ".join(" ".join(map(number, p)) for p in r) + ")" if r else "EMPTY" for r in rings]
        body = "(" + ", ".join(texts) + ")" if rings else "EMPTY"
        assert wkb_to_wkt(wkb) == f"POLYGON{' Z' if dims == 3 else ''} {body}"
