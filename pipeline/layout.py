"""What the DAG files need at parse time: the ingest DAGs (one per domain and update cycle that has
bound resources), their schedules, and the staging Assets with the catalogue's names.

Cheap on purpose — the catalogue's snapshot file (catalog.reader.snapshot, rewritten by every
catalogue commit) is a file read — so that Airflow's parser opens no connection and loads no
engine (tests/unit/test_dags_parse.py), and a resource registered, retired or given another update
cycle through the API moves to its DAG at the next parse.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog import reader, selection
from catalog.spec import DOMAIN_LABELS, DOMAINS, Catalogue, Resource
from hub.timezone import LOCAL_TZ_NAME

DOMAIN_TITLES = {domain: DOMAIN_LABELS[domain] for domain in DOMAINS}
REALTIME = "实时"
# A bound resource without a (known) cycle is polled daily: the lint reports the missing cycle, and
# coverage counts it as a gap, but data already flowing should not stop.
FALLBACK_CYCLE = "每日"


@dataclass(frozen=True)
class Cycle:
    """How one update cycle is scheduled: a DAG id slug and a cron line in Beijing time. `{m}` is
    the minute that staggers the domains' DAGs apart (so six departments' databases are not read at
    the same minute); every batch cycle runs at night, done before coverage_daily at 07:00."""

    name: str
    slug: str
    cron: str
    label: str


CYCLES = {
    cycle.name: cycle
    for cycle in (
        # Micro-batches of what the long-running connectors (pipeline/streams.py) delivered: a 1 h
        # window holds with four landings in it.
        Cycle("实时", "realtime", "{m15}-59/15 * * * *", "every 15 minutes"),
        Cycle("每日", "daily", "{m} 1 * * *", "daily at 01:{m:02d}"),
        Cycle("每周", "weekly", "{m} 2 * * 1", "Mondays at 02:{m:02d}"),
        Cycle("每月", "monthly", "{m} 3 1 * *", "the 1st of each month at 03:{m:02d}"),
        Cycle("每季度", "quarterly", "{m} 4 1 1,4,7,10 *", "the 1st of each quarter at 04:{m:02d}"),
        Cycle("半年", "half_yearly", "{m} 5 1 1,7 *", "1 January and 1 July at 05:{m:02d}"),
        Cycle("每年", "yearly", "{m} 5 2 1 *", "2 January at 05:{m:02d}"),
    )
}
COVERAGE_CRON = "0 7 * * *"  # coverage_daily: after the night's ingests, before the working day
# quality_docs: the Data Docs of every gate since the last build, in one build, every half hour. Not on
# an Asset the gates update: the scheduler starts such a run per gate or two (measured: 13 runs, each
# loading Great Expectations, for 8 ingest DAG runs), more builds than one per ingest run did.
QUALITY_DOCS_CRON = "*/30 * * * *"


@dataclass(frozen=True)
class StagingAsset:
    """The Airflow Asset a resource's stage task updates, named as the catalogue names the resource."""

    resource_id: str
    name: str  # 中文名（资源代码）: what the Assets view lists
    code: str
    department: str  # the provider's Chinese name: the Asset's group
    extra: dict

    @property
    def uri(self) -> str:
        return staging_asset_uri(self.resource_id)


@dataclass(frozen=True)
class IngestDag:
    domain: str
    cycle: Cycle
    resources: tuple[str, ...]

    @property
    def dag_id(self) -> str:
        return f"ingest_{self.domain}_{self.cycle.slug}"

    @property
    def micro_batch(self) -> bool:
        """实时: the connectors run continuously outside Airflow; the DAG lands what they delivered."""
        return self.cycle.name == REALTIME

    @property
    def minute(self) -> int:
        """The domains' DAGs start apart, spread over the hour whatever the number of domains."""
        return DOMAINS.index(self.domain) * 60 // len(DOMAINS)

    @property
    def cron(self) -> str:
        return self.cycle.cron.format(m=self.minute, m15=self.minute % 15)

    @property
    def schedule_label(self) -> str:
        return self.cycle.label.format(m=self.minute)

    @property
    def title(self) -> str:
        return f"{DOMAIN_TITLES[self.domain]} · {self.cycle.name}"


def catalogue_snapshot() -> Catalogue:
    """The catalogue as last committed (a file read): read once per parse, passed to the functions below."""
    return reader.snapshot()


def scheduled_cycle(resource: Resource) -> Cycle:
    return CYCLES.get(resource.update_cycle or "", CYCLES[FALLBACK_CYCLE])


def ingest_dags(catalogue: Catalogue | None = None) -> list[IngestDag]:
    """One DAG per (ingest domain, update cycle) with bound resources, in domain then cycle order."""
    catalogue = catalogue if catalogue is not None else reader.snapshot()
    grouped: dict[tuple[str, str], list[str]] = {}
    for resource in reader.in_force(catalogue):
        if resource.binding is not None:
            key = (selection.ingest_domain(resource), scheduled_cycle(resource).name)
            grouped.setdefault(key, []).append(resource.id)
    order = list(CYCLES)
    return [
        IngestDag(domain, CYCLES[cycle], tuple(sorted(ids)))
        for (domain, cycle), ids in sorted(
            grouped.items(), key=lambda kv: (DOMAINS.index(kv[0][0]), order.index(kv[0][1]))
        )
    ]


def realtime_resources(catalogue: Catalogue | None = None) -> list[str]:
    """The bound 实时 resources: each gets a long-running connector (pipeline/streams.py)."""
    return sorted(rid for dag in ingest_dags(catalogue) if dag.micro_batch for rid in dag.resources)


def bound_resources(domain: str, catalogue: Catalogue | None = None) -> list[str]:
    """Every bound resource of `domain`, whatever its cycle (`hub flow run DOMAIN` runs them all)."""
    return selection.bound_resources(domain, catalogue if catalogue is not None else reader.snapshot())


def all_bound_resources(catalogue: Catalogue | None = None) -> list[str]:
    return selection.all_bound_resources(catalogue if catalogue is not None else reader.snapshot())


def staging_assets(catalogue: Catalogue | None = None) -> dict[str, StagingAsset]:
    """The staging Asset of every bound resource, by resource id."""
    catalogue = catalogue if catalogue is not None else reader.snapshot()
    departments = {d.id: d.name for d in catalogue.departments}
    assets = {}
    for resource in reader.in_force(catalogue):
        if resource.binding is None:
            continue
        department = departments.get(resource.provider, resource.provider)
        assets[resource.id] = StagingAsset(
            resource_id=resource.id,
            name=f"{resource.name}（{resource.code}）",
            code=resource.code,
            department=department,
            extra={
                "resource_id": resource.id,
                "name": resource.name,
                "code": resource.code,
                "department": department,
                "department_id": resource.provider,
                "update_cycle": resource.update_cycle,
                "table": f"staging.{resource.id}",
            },
        )
    return assets


def staging_asset_uri(resource_id: str) -> str:
    return f"duckdb://warehouse/staging/{resource_id}"


__all__ = [
    "COVERAGE_CRON",
    "CYCLES",
    "DOMAIN_TITLES",
    "LOCAL_TZ_NAME",
    "QUALITY_DOCS_CRON",
    "IngestDag",
    "StagingAsset",
    "all_bound_resources",
    "bound_resources",
    "catalogue_snapshot",
    "ingest_dags",
    "realtime_resources",
    "staging_asset_uri",
    "staging_assets",
]
