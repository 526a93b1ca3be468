"""A resource page says which quality threshold applies and where it comes from: the catalogue entry's
own (market_entities: 0.98) or the platform default (0.95); the JSON twin carries both."""

from __future__ import annotations

import pytest


@pytest.fixture
def client(seeded_catalogue, monkeypatch):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app
    from hub import settings as hub_settings

    monkeypatch.setenv("HUB_API_TOKEN", "a-test-token-of-enough-length")
    hub_settings.reset_settings()
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("resource_id", "applied", "source", "shown"),
    [
        ("market_entities", 0.98, "catalogue", "98%（目录条目设定）"),
        ("manhole_covers", 0.95, "default", "95%（平台默认）"),
    ],
)
def test_the_threshold_and_its_origin_are_shown(client, seeded_catalogue, resource_id, applied, source, shown):
    entry = next(r for r in seeded_catalogue.resources if r.id == resource_id)
    assert (entry.quality_threshold is not None) == (source == "catalogue")
    data = client.get(f"/api/resources/{resource_id}").json()["resource"]
    assert data["quality_threshold_applied"] == applied and data["quality_threshold_source"] == source
    page = client.get(f"/resources/{resource_id}")
    assert page.status_code == 200 and shown in page.text
