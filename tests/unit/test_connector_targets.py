"""`hub connect <resource|domain|all>` against the seed catalogue, and the kinds registry."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog.selection import bound_resources
from catalog.spec import load_catalogue
from catalog.systems import CONNECTOR_KINDS, SYSTEM_DOMAINS
from connectors.cli import app
from connectors.errors import BindingError, ConnectorError
from connectors.kinds import KINDS, make_source
from connectors.runner import resolve_targets

SEED = Path(__file__).resolve().parents[2] / "catalog" / "seed"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(SEED)


def test_the_registry_covers_every_connector_kind():
    assert set(KINDS) == set(CONNECTOR_KINDS)


def test_every_seed_binding_builds_its_source(catalogue):
    bound = [r for r in catalogue.resources if r.binding is not None]
    assert bound
    for resource in bound:
        source = make_source(resource)
        assert source.kind == resource.binding.kind and source.object_name


def test_targets_resolve_to_bound_resources(catalogue):
    bound = [r for r in catalogue.resources if r.binding is not None]
    assert resolve_targets(catalogue, "all") == bound
    gis = resolve_targets(catalogue, "gis")
    # A domain names what its ingest DAG ingests: its own resources and the themes its system feeds.
    assert gis and all(r.binding and "gis" in (r.domain, SYSTEM_DOMAINS[r.binding.system]) for r in gis)
    assert {r.id for r in gis} == set(bound_resources("gis", catalogue))
    one = bound[0]
    assert resolve_targets(catalogue, one.id) == [one]


def test_unbound_and_unknown_targets_say_what_to_do(catalogue):
    unbound = next(r for r in catalogue.resources if r.binding is None)
    with pytest.raises(ConnectorError, match="no source binding"):
        resolve_targets(catalogue, unbound.id)
    with pytest.raises(ConnectorError, match="neither a resource id nor a domain.*'all'"):
        resolve_targets(catalogue, "no_such_thing")


def test_a_binding_without_its_config_fails_early(catalogue):
    resource = next(r for r in catalogue.resources if r.binding is not None and r.binding.kind == "sql")
    broken = resource.model_copy(update={"binding": resource.binding.model_copy(update={"config": {}})})
    with pytest.raises(BindingError, match="lacks config table"):
        make_source(broken)
    unknown = resource.model_copy(update={"binding": resource.binding.model_copy(update={"kind": "ftp"})})
    with pytest.raises(BindingError, match="kind 'ftp' is unknown"):
        make_source(unknown)


def test_cli_reports_an_unknown_target(catalogue, hub_env):
    from datetime import datetime, timezone

    from catalog.db import session_scope
    from catalog.store import load_catalogue_into

    with session_scope() as session:  # the CLI reads the catalogue database, as after `hub catalog load`
        load_catalogue_into(session, catalogue, now=datetime.now(timezone.utc))
    result = CliRunner().invoke(app, ["connect", "no_such_thing"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConnectorError)
