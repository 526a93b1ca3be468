"""The GIS drop folder: real GeoPackages (header, gpkg_* tables, GP binary + WKB) and GeoJSON with
a declared CRS, written by the stdlib only; EPSG:4547 coordinates where DOMAIN §3 says they are."""

from __future__ import annotations

import json
import sqlite3
import struct

import pytest

from connectors import systems
from connectors.kinds.geometry import gpkg_to_wkt
from synthetic import generate
from synthetic.gisfiles import GPKG_APPLICATION_ID, GpkgWriter, gpkg_geometry, project_4547, wkb
from synthetic.snapshot import source_files

# Every test runs with an isolated HUB_VAR_DIR (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("hub_env")

GIS = ("land_parcels", "buildings", "standard_addresses", "road_centerlines", "bus_stops")


@pytest.fixture
def drop(hub_env):
    generate.seed("tiny", 5, only=set(GIS))
    return {r.id: r for r in generate.bound_resources() if r.id in GIS}


def test_projection_puts_shunde_where_domain_says():
    corners = [project_4547(lon, lat) for lon in (112.95, 113.42) for lat in (22.63, 23.06)]
    for easting, northing in corners:
        assert 390_000 <= easting <= 443_000 and 2_500_000 <= northing <= 2_553_000
    assert project_4547(114.0, 0.0) == (500_000.0, 0.0)


def test_geopackage_header_tables_and_geometries(drop):
    resource = drop["buildings"]
    (path,) = source_files(resource)
    header = path.read_bytes()[:100]
    assert header[:16] == b"SQLite format 3\x00"
    assert struct.unpack(">I", header[68:72])[0] == GPKG_APPLICATION_ID  # "GPKG"
    assert struct.unpack(">I", header[60:64])[0] >= 10200
    with sqlite3.connect(path) as db:
        table, srs, min_x, max_y = db.execute("SELECT table_name, srs_id, min_x, max_y FROM gpkg_contents").fetchone()
        assert (table, srs) == (resource.binding.config["layer"], 4547)
        assert 390_000 <= min_x and max_y <= 2_553_000 + 1e6  # swapped-axis defects widen the extent
        assert {row[0] for row in db.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")} >= {-1, 0, 4326, 4547}
        assert db.execute("SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns").fetchone() == (
            "geom",
            "POLYGON",
            4547,
        )
        blobs = [row[0] for row in db.execute(f'SELECT geom FROM "{table}"')]
    unreadable = 0
    for blob in blobs:
        try:
            wkt, srs_id = gpkg_to_wkt(blob)
        except Exception:
            unreadable += 1  # the injected broken geometries
            continue
        assert blob[:3] == b"GP\x00" and struct.unpack("<i", blob[4:8])[0] == 4547
        assert wkt.startswith("POLYGON ((") and srs_id == 4547
    manifest = json.loads(systems.manifest_path().read_text(encoding="utf-8"))
    assert unreadable == len(manifest["resources"]["buildings"]["defects"]["unreadable_row"])


def test_geojson_declares_its_crs_and_item_properties(drop):
    for resource_id in ("land_parcels", "standard_addresses", "bus_stops"):
        resource = drop[resource_id]
        for path in source_files(resource):
            document = json.loads(path.read_text(encoding="utf-8"))
            assert document["type"] == "FeatureCollection"
            assert document["crs"] == {
                "type": "name",
                "properties": {"name": f"urn:ogc:def:crs:EPSG::{resource.binding.config['crs']}"},
            }
            expected = {item.name for item in resource.items} - {"geometry"}
            assert all(set(feature["properties"]) == expected for feature in document["features"])


def test_address_points_agree_with_their_lon_lat_items(drop):
    (path,) = source_files(drop["standard_addresses"])
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry, properties = feature["geometry"], feature["properties"]
        if geometry["type"] == "Point":
            assert geometry["coordinates"] == [properties["longitude"], properties["latitude"]]


def test_files_sit_where_the_binding_pattern_points(drop):
    for resource in drop.values():
        files = source_files(resource)
        assert files, resource.id
        assert all(path.is_relative_to(systems.gis_drop_dir()) for path in files)


def test_gpkg_writer_round_trip(hub_env, tmp_path):
    square = {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]}
    writer = GpkgWriter(tmp_path / "t.gpkg", "t", 4490, "Polygon", {"name": "TEXT"}, "2026-11-20T00:00:00.000Z")
    writer.add([{"properties": {"name": "一"}, "geometry": square}])
    writer.close()
    with sqlite3.connect(tmp_path / "t.gpkg") as db:
        name, blob = db.execute('SELECT name, geom FROM "t"').fetchone()
        extent = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents").fetchone()
    assert name == "一" and blob == gpkg_geometry(square, 4490) and blob.endswith(wkb(square))
    assert extent == (0.0, 0.0, 1.0, 1.0)
    assert gpkg_to_wkt(blob)[0] == "POLYGON ((0 0, 1 0, 1 1, 0 0))"
