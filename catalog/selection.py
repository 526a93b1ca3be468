"""What a command's TARGET names — a resource id, a domain of the ingest DAGs, or `all` — and the
domain an ingest DAG groups a bound resource under. Functions of a catalogue: by default the
catalogue database (catalog.reader); DAG files pass its snapshot. Retired entries (已下线) are
never selected: they get no task and no run.
"""

from __future__ import annotations

from pathlib import Path

from catalog import reader
from catalog.errors import CatalogError
from catalog.spec import DOMAINS, Catalogue, Resource
from catalog.systems import SYSTEM_DOMAINS
from hub.settings import REPO_ROOT

SEED_DIR: Path = REPO_ROOT / "catalog" / "seed"  # an input to `hub catalog load` only


class UnknownTarget(CatalogError):
    """A TARGET that is neither a resource id, a domain nor `all`."""


def _in_force(catalogue: Catalogue | None) -> list[Resource]:
    return reader.in_force(catalogue if catalogue is not None else reader.catalogue())


def ingest_domain(resource: Resource) -> str:
    """Thematic resources are ingested with the domain of the source system that feeds them."""
    if resource.domain in DOMAINS:
        return resource.domain
    return SYSTEM_DOMAINS[resource.binding.system]


def bound_resources(domain: str, catalogue: Catalogue | None = None) -> list[str]:
    """Ids of the resources of `domain` (as the ingest DAGs group them) that have a source binding."""
    return sorted(r.id for r in _in_force(catalogue) if r.binding and ingest_domain(r) == domain)


def all_bound_resources(catalogue: Catalogue | None = None) -> list[str]:
    return sorted(r.id for r in _in_force(catalogue) if r.binding)


def select_resource_ids(target: str, catalogue: Catalogue | None = None) -> list[str]:
    """Resource ids named by TARGET: a resource id, a domain of the ingest DAGs, or `all` (bound resources)."""
    catalogue = catalogue if catalogue is not None else reader.catalogue()
    if target == "all":
        return all_bound_resources(catalogue)
    if target in DOMAINS:
        return bound_resources(target, catalogue)
    return [find_resource(target, catalogue).id]


def find_resource(resource_id: str, catalogue: Catalogue | None = None) -> Resource:
    """The catalogue entry of `resource_id`; raises UnknownTarget naming where it looked."""
    for resource in _in_force(catalogue):
        if resource.id == resource_id:
            return resource
    raise UnknownTarget(
        f"resource {resource_id!r} is not in the catalogue (or it is retired): check the id, or "
        "register it (`hub catalog load`, or POST /api/resources)"
    )
