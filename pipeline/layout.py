"""What the DAG files need at parse time: the ingest domains, their bound resources, the staging Assets.

Cheap on purpose — reading the seed catalogue is a file read and imports nothing heavy — so that
Airflow's parser opens no connection and loads no engine (tests/unit/test_dags_parse.py).
"""
from __future__ import annotations

from catalog.selection import all_bound_resources, bound_resources
from catalog.spec import DOMAIN_LABELS, DOMAINS
from hub.timezone import LOCAL_TZ_NAME

DOMAIN_TITLES = {domain: DOMAIN_LABELS[domain] for domain in DOMAINS}  # the six ingest DAGs

__all__ = ["DOMAIN_TITLES", "LOCAL_TZ_NAME", "all_bound_resources", "bound_resources", "staging_asset_uri"]


def staging_asset_uri(resource_id: str) -> str:
    return f"duckdb://warehouse/staging/{resource_id}"
