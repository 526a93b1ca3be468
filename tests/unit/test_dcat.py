"""The DCAT export of the seed catalogue validates against the DCAT-AP 3.0.0 SHACL shapes (pyshacl),
and carries what harvesters read: publisher, frequency, access rights, themes, keywords, distribution."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF

REPO = Path(__file__).resolve().parents[2]
SHAPES = REPO.parent / "shared" / "fixtures" / "dcat-ap-3.0.0-SHACL.ttl"
NOW = datetime(2026, 5, 20, 8, 0, tzinfo=timezone.utc)
BASE = "http://catalogue.test"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    if not SHAPES.is_file():
        pytest.skip(f"the DCAT-AP SHACL shapes are not at {SHAPES} (../shared/fixtures, next to the repo)")
    return Graph().parse(SHAPES)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Graph:
    """The seed catalogue with one landed resource, exported as JSON-LD and parsed back."""
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.service.dcat import catalogue_jsonld
    from catalog.spec import load_catalogue
    from catalog.store import load_catalogue_into
    from hub.events import make_event

    url = f"sqlite:///{tmp_path_factory.mktemp('dcat') / 'catalog.db'}"
    with session_scope(url) as session:
        load_catalogue_into(session, load_catalogue(REPO / "catalog" / "seed"), now=NOW)
        apply_events(
            session,
            [
                make_event("connector.produced", "household_population", ts=NOW, records=10),
                make_event("landing.completed", "household_population", ts=NOW, load_id="l-1", rows=10),
            ],
        )
    with session_scope(url) as session:
        text = catalogue_jsonld(session, BASE, now=NOW)
    return Graph().parse(data=text, format="json-ld")


def _validate(data: Graph, shapes: Graph) -> tuple[bool, str]:
    import pyshacl

    conforms, _report, text = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    return conforms, text


def test_the_export_conforms_to_the_dcat_ap_shapes(exported, shapes):
    conforms, text = _validate(exported, shapes)
    assert conforms, text


def test_the_shapes_do_catch_a_dataset_without_a_title(exported, shapes):
    broken = Graph()
    for triple in exported:
        broken.add(triple)
    dataset = URIRef(f"{BASE}/resources/household_population#dataset")
    broken.remove((dataset, DCTERMS.title, None))
    conforms, text = _validate(broken, shapes)
    assert not conforms and "title" in text


def test_every_dataset_carries_what_harvesters_read(exported):
    from catalog.spec import load_catalogue

    counted = [r for r in load_catalogue(REPO / "catalog" / "seed").resources if r.status != "已下线"]
    datasets = set(exported.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == len(counted)
    catalog = next(exported.subjects(RDF.type, DCAT.Catalog))
    assert set(exported.objects(catalog, DCAT.dataset)) == datasets
    for dataset in datasets:
        for prop in (
            DCTERMS.title,
            DCTERMS.description,
            DCTERMS.publisher,
            DCTERMS.accrualPeriodicity,
            DCTERMS.accessRights,
            DCAT.keyword,
            DCTERMS.identifier,
        ):
            assert exported.value(dataset, prop) is not None, (dataset, prop)
        assert (exported.value(dataset, DCTERMS.publisher), RDF.type, FOAF.Agent) in exported


def test_a_landed_resource_has_its_warehouse_table_as_distribution(exported):
    dataset = URIRef(f"{BASE}/resources/household_population#dataset")
    assert exported.value(dataset, DCTERMS.title) == Literal("户籍人口基本信息", lang="zh")
    assert str(exported.value(dataset, DCTERMS.accrualPeriodicity)).endswith("/frequency/DAILY")
    assert str(exported.value(dataset, DCTERMS.accessRights)).endswith("/access-right/NON_PUBLIC")
    assert str(exported.value(dataset, DCAT.theme)).endswith("/data-theme/SOCI")
    distributions = list(exported.objects(dataset, DCAT.distribution))
    assert len(distributions) == 1
    assert exported.value(distributions[0], DCTERMS.identifier) == Literal("staging.household_population")
    assert exported.value(distributions[0], DCAT.accessURL) == URIRef(f"{BASE}/api/resources/household_population")
    assert len(set(exported.subjects(RDF.type, DCAT.Distribution))) == 1  # only landed data has a table
