"""What a command's TARGET names — a resource id, a domain of the ingest DAGs, or `all` — and the
domain an ingest DAG groups a bound resource under. Pure functions of a catalogue (the seed by default).
"""
from __future__ import annotations

import functools
from pathlib import Path

from catalog.errors import CatalogError
from catalog.spec import DOMAINS, Catalogue, Resource, load_catalogue
from catalog.systems import SYSTEM_DOMAINS
from hub.settings import REPO_ROOT

SEED_DIR: Path = REPO_ROOT / "catalog" / "seed"


class UnknownTarget(CatalogError):
    """A TARGET that is neither a resource id, a domain nor `all`."""


@functools.cache
def seed_catalogue() -> Catalogue:
    """The seed catalogue (read once per process; a file read, no connection)."""
    return load_catalogue(SEED_DIR)


def ingest_domain(resource: Resource) -> str:
    """Thematic resources are ingested with the domain of the source system that feeds them."""
    if resource.domain in DOMAINS:
        return resource.domain
    return SYSTEM_DOMAINS[resource.binding.system]


def bound_resources(domain: str, catalogue: Catalogue | None = None) -> list[str]:
    """Ids of the resources of `domain` (as the ingest DAGs group them) that have a source binding."""
    catalogue = catalogue or seed_catalogue()
    return sorted(r.id for r in catalogue.resources if r.binding and ingest_domain(r) == domain)


def all_bound_resources(catalogue: Catalogue | None = None) -> list[str]:
    return sorted(r.id for r in (catalogue or seed_catalogue()).resources if r.binding)


def select_resource_ids(target: str, catalogue: Catalogue | None = None) -> list[str]:
    """Resource ids named by TARGET: a resource id, a domain of the ingest DAGs, or `all` (bound resources)."""
    catalogue = catalogue or seed_catalogue()
    if target == "all":
        return all_bound_resources(catalogue)
    if target in DOMAINS:
        return bound_resources(target, catalogue)
    return [find_resource(target, catalogue).id]


def find_resource(resource_id: str, catalogue: Catalogue | None = None) -> Resource:
    """The catalogue entry of `resource_id`; raises UnknownTarget naming where it looked."""
    for resource in (catalogue or seed_catalogue()).resources:
        if resource.id == resource_id:
            return resource
    raise UnknownTarget(f"resource {resource_id!r} is not in the seed catalogue (catalog/seed): check the id or "
                        f"register the resource")
