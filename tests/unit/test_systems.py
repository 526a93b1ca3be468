"""The source systems and the row-set check vocabulary are declared once; everything else derives."""

from __future__ import annotations

import pytest
from seed_kit import seed_catalogue

from catalog import systems
from catalog.checks import ROW_CHECK_ROLES
from catalog.selection import (
    UnknownTarget,
    all_bound_resources,
    bound_resources,
    ingest_domain,
    select_resource_ids,
)
from catalog.spec import DOMAINS
from connectors.kinds import KINDS
from quality.plan import ROW_CHECKS


def test_every_domain_has_its_systems_each_read_by_a_registered_kind():
    assert list(dict.fromkeys(s.domain for s in systems.SYSTEMS)) == list(DOMAINS)
    assert set(systems.CONNECTOR_KINDS) == set(KINDS)
    assert systems.systems_of_kind("sql") == ("population_db", "legal_entity_db", "utility_db", "drone_db")
    assert sorted(name for d in DOMAINS for name in systems.DOMAIN_SYSTEMS[d]) == sorted(systems.SOURCE_SYSTEMS)
    assert systems.DOMAIN_SYSTEMS["video"] == ("video_platform", *systems.VIDEO_CLOUDS)
    assert list(systems.VIDEO_CLOUDS.values()) == ["公安网视频云平台", "城市视频专网视频云平台", "政务视频网视频云平台"]


def test_every_declared_row_check_is_implemented_with_its_roles():
    assert {name: check.roles for name, check in ROW_CHECKS.items()} == ROW_CHECK_ROLES


def test_every_bound_seed_resource_is_ingested_under_one_of_the_seven_domains():
    bound = [r for r in seed_catalogue().resources if r.binding]
    assert bound and {ingest_domain(r) for r in bound} == set(DOMAINS)


def test_a_target_names_all_bound_resources_a_domain_or_one_resource():
    catalogue = seed_catalogue()
    assert select_resource_ids("all", catalogue) == all_bound_resources(catalogue)
    assert select_resource_ids("gis", catalogue) == bound_resources("gis", catalogue) != []
    unbound = next(r.id for r in catalogue.resources if r.binding is None)
    assert select_resource_ids(unbound, catalogue) == [unbound]  # a gap on purpose is still a resource
    with pytest.raises(UnknownTarget, match="'nope'.*not in the catalogue"):
        select_resource_ids("nope", catalogue)
    retired = catalogue.model_copy(
        update={
            "resources": [
                r.model_copy(update={"status": "已下线"}) if r.id == unbound else r for r in catalogue.resources
            ]
        }
    )
    with pytest.raises(UnknownTarget, match="retired"):
        select_resource_ids(unbound, retired)
