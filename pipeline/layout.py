"""What the DAG files need at parse time: the ingest domains, their bound resources, the staging Assets.

Cheap on purpose — the catalogue's snapshot file (catalog.reader.snapshot, rewritten by every
catalogue commit) is a file read — so that Airflow's parser opens no connection and loads no
engine (tests/unit/test_dags_parse.py), and a resource registered or retired through the API
gets or loses its tasks at the next parse.
"""

from __future__ import annotations

from catalog import reader, selection
from catalog.spec import DOMAIN_LABELS, DOMAINS
from hub.timezone import LOCAL_TZ_NAME

DOMAIN_TITLES = {domain: DOMAIN_LABELS[domain] for domain in DOMAINS}  # the six ingest DAGs

__all__ = ["DOMAIN_TITLES", "LOCAL_TZ_NAME", "all_bound_resources", "bound_resources", "staging_asset_uri"]


def bound_resources(domain: str) -> list[str]:
    """The bound resources the ingest DAG of `domain` has a task group for."""
    return selection.bound_resources(domain, reader.snapshot())


def all_bound_resources() -> list[str]:
    return selection.all_bound_resources(reader.snapshot())


def staging_asset_uri(resource_id: str) -> str:
    return f"duckdb://warehouse/staging/{resource_id}"
