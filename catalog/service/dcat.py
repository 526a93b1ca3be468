"""The catalogue as DCAT (DCAT-AP 3 vocabulary), for other catalogues (CKAN, national portals) to harvest.

One dcat:Dataset per catalogue resource (publisher, frequency, access rights, themes, keywords) and,
for resources whose data has landed, a dcat:Distribution for the warehouse table. Controlled
values use the EU Publications Office authority tables DCAT-AP recommends; every such value is
typed in the graph (dct:Frequency, skos:Concept, …) so that the SHACL shapes check without inference.
"""

from __future__ import annotations

from datetime import datetime

from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDFS, SKOS
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from catalog import derive
from catalog.models import Department, Landing, Resource
from catalog.service import labels
from catalog.store import RETIRED_ENTRY_STATUSES, display_name

EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY = Namespace(EU + "frequency/")
ACCESS_RIGHT = Namespace(EU + "access-right/")
DATA_THEME = Namespace(EU + "data-theme/")
FILE_TYPE = Namespace(EU + "file-type/")
LANGUAGE = Namespace(EU + "language/")
LANG = "zh"

CATALOGUE_TITLE = "佛山市顺德区政务数据资源目录"
CATALOGUE_DESCRIPTION = "顺德区政务数据资源目录中的数据资源及其在数据中台的汇聚情况（数据仓库表）。"
CATALOGUE_PUBLISHER = "zsj"  # 区政务服务数据管理局 compiles the district catalogue

UPDATE_CYCLE_FREQUENCIES = {
    "实时": "UPDATE_CONT",
    "每日": "DAILY",
    "每周": "WEEKLY",
    "每月": "MONTHLY",
    "每季度": "QUARTERLY",
    "半年": "ANNUAL_2",
    "每年": "ANNUAL",
}
# 开放属性 says what the public may access (共享属性 is about other departments: kept as dct:rights).
OPEN_TYPE_ACCESS = {"无条件开放": "PUBLIC", "有条件开放": "RESTRICTED", "不开放": "NON_PUBLIC"}
DOMAIN_THEMES = {
    "population": "SOCI",
    "legal_entity": "ECON",
    "utility": "ENER",
    "gis": "REGI",
    "video": "JUST",
    "iot": "ENVI",
    "drone": "REGI",
    "public_service": "GOVE",
    "urban_construction": "REGI",
    "community_governance": "SOCI",
    "ecology": "ENVI",
    "emergency": "JUST",
    "energy": "ENER",
    "credit": "ECON",
    "licence": "GOVE",
}
THEME_LABELS = {
    "SOCI": "Population and society",
    "ECON": "Economy and finance",
    "ENER": "Energy",
    "REGI": "Regions and cities",
    "JUST": "Justice, legal system and public safety",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
}

JSONLD_CONTEXT = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "skos": str(SKOS),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}


def catalogue_graph(session: Session, base_url: str, *, now: datetime) -> Graph:
    """The DCAT graph of every counted resource; URIs are the service's own pages under `base_url`."""
    base = base_url.rstrip("/")
    graph = Graph()
    graph.bind("dcat", DCAT)
    graph.bind("dct", DCTERMS)
    graph.bind("foaf", FOAF)
    graph.bind("skos", SKOS)
    catalog = URIRef(f"{base}/catalog.jsonld#catalog")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(CATALOGUE_TITLE, lang=LANG)))
    graph.add((catalog, DCTERMS.description, Literal(CATALOGUE_DESCRIPTION, lang=LANG)))
    graph.add((catalog, DCTERMS.modified, Literal(now.date().isoformat(), datatype=XSD.date)))
    _typed(graph, catalog, DCTERMS.language, LANGUAGE.ZHO, DCTERMS.LinguisticSystem)
    _typed(graph, catalog, FOAF.homepage, URIRef(f"{base}/"), FOAF.Document)
    departments = {dept.id: dept for dept in session.scalars(select(Department))}
    graph.add((catalog, DCTERMS.publisher, _agent(graph, base, departments.get(CATALOGUE_PUBLISHER))))
    landed = set(session.scalars(select(Landing.resource_id).where(Landing.succeeded, Landing.rows > 0).distinct()))
    resources = session.scalars(
        select(Resource)
        .where(Resource.entry_status.not_in(RETIRED_ENTRY_STATUSES))
        .options(selectinload(Resource.items), selectinload(Resource.department))
        .order_by(Resource.code)
    )
    for resource in resources:
        dataset = _dataset(graph, base, resource)
        graph.add((dataset, DCTERMS.publisher, _agent(graph, base, resource.department)))
        if resource.id in landed:
            graph.add((dataset, DCAT.distribution, _distribution(graph, base, resource)))
        graph.add((catalog, DCAT.dataset, dataset))
    return graph


def catalogue_jsonld(session: Session, base_url: str, *, now: datetime) -> str:
    """The DCAT graph serialised as JSON-LD (compacted with the dcat/dct/foaf/skos prefixes)."""
    return catalogue_graph(session, base_url, now=now).serialize(format="json-ld", context=JSONLD_CONTEXT, indent=1)


def _dataset(graph: Graph, base: str, resource: Resource) -> URIRef:
    dataset = URIRef(f"{base}/resources/{resource.id}#dataset")
    graph.add((dataset, RDF.type, DCAT.Dataset))
    graph.add((dataset, DCTERMS.identifier, Literal(resource.code)))
    graph.add((dataset, DCTERMS.title, Literal(resource.name, lang=LANG)))
    graph.add((dataset, DCTERMS.description, Literal(resource.abstract or resource.name, lang=LANG)))
    graph.add((dataset, DCTERMS.issued, Literal(resource.release_date.isoformat(), datatype=XSD.date)))
    graph.add((dataset, DCTERMS.modified, Literal(resource.updated_at.date().isoformat(), datatype=XSD.date)))
    frequency = UPDATE_CYCLE_FREQUENCIES.get(resource.update_cycle or "", "UNKNOWN")
    _typed(graph, dataset, DCTERMS.accrualPeriodicity, FREQUENCY[frequency], DCTERMS.Frequency)
    access = OPEN_TYPE_ACCESS.get(resource.open_type, "NON_PUBLIC")
    _typed(graph, dataset, DCTERMS.accessRights, ACCESS_RIGHT[access], DCTERMS.RightsStatement)
    theme = DOMAIN_THEMES.get(resource.domain)
    if theme:
        concept = _typed(graph, dataset, DCAT.theme, DATA_THEME[theme], SKOS.Concept)
        graph.set((concept, SKOS.prefLabel, Literal(THEME_LABELS[theme], lang="en")))
    for keyword in _keywords(resource):
        graph.add((dataset, DCAT.keyword, Literal(keyword, lang=LANG)))
    _typed(graph, dataset, DCAT.landingPage, URIRef(f"{base}/resources/{resource.id}"), FOAF.Document)
    return dataset


def _keywords(resource: Resource) -> list[str]:
    parts = [part for part in resource.classification.split("/") if part]
    words = [labels.domain_label(resource.domain), *parts, display_name(resource.department.name)]
    return list(dict.fromkeys(words))  # unique, in order


def _distribution(graph: Graph, base: str, resource: Resource) -> URIRef:
    tables = derive.table_names(resource)
    distribution = URIRef(f"{base}/resources/{resource.id}#warehouse")
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCTERMS.title, Literal(f"数据仓库表 {tables.staging}", lang=LANG)))
    graph.add(
        (
            distribution,
            DCTERMS.description,
            Literal(
                f"{resource.name}：数据中台 DuckDB 仓库中按业务主键去重的当前数据（{tables.staging}），"
                f"逐条明细见 {tables.raw}；按共享属性授权访问。",
                lang=LANG,
            ),
        )
    )
    graph.add((distribution, DCTERMS.identifier, Literal(tables.staging)))
    _typed(graph, distribution, DCAT.accessURL, URIRef(f"{base}/api/resources/{resource.id}"), RDFS.Resource)
    _typed(graph, distribution, DCTERMS.format, FILE_TYPE.PARQUET, DCTERMS.MediaTypeOrExtent)
    rights = BNode()
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    condition = f"：{resource.sharing_condition}" if resource.sharing_condition else ""
    graph.add((rights, RDFS.label, Literal(f"{resource.sharing_type}{condition}", lang=LANG)))
    graph.add((distribution, DCTERMS.rights, rights))
    return distribution


def _agent(graph: Graph, base: str, department: Department | None) -> URIRef:
    """A department as foaf:Agent (its USCC as identifier); the district if it is not in the catalogue."""
    if department is None:
        agent = URIRef(f"{base}/departments/{CATALOGUE_PUBLISHER}#agent")
        graph.add((agent, RDF.type, FOAF.Agent))
        graph.set((agent, FOAF.name, Literal("佛山市顺德区政务服务数据管理局", lang=LANG)))
        return agent
    agent = URIRef(f"{base}/departments/{department.id}#agent")
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.set((agent, FOAF.name, Literal(department.name, lang=LANG)))
    graph.set((agent, DCTERMS.identifier, Literal(department.code)))
    return agent


def _typed(graph: Graph, subject, predicate, value: URIRef, kind: URIRef) -> URIRef:
    graph.add((subject, predicate, value))
    graph.add((value, RDF.type, kind))
    return value
