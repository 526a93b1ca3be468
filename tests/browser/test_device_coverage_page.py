"""The dashboard in real headless Chromium shows the video clouds' online rate against the 90 % target
(figures computed by the warehouse from staged stand-in channels), and a department page shows its
own channels. Screenshot: var/test-artifacts/dashboard-device-coverage.png."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from catalog.systems import VIDEO_CLOUDS

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture(scope="module")
def device_figures(tmp_path_factory):
    """Device figures computed in a warehouse of their own and kept where the service will read them."""
    from device_kit import AS_OF, seed_and_stage
    from seed_kit import seed_catalogue

    from hub import settings as hub_settings
    from warehouse import devices

    home = tmp_path_factory.mktemp("devices")
    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_DEVICE_COVERAGE_DIR", str(home / "device_coverage"))
    with pytest.MonkeyPatch.context() as warehouse_home:
        warehouse_home.setenv("HUB_VAR_DIR", str(home / "var"))
        hub_settings.reset_settings()
        seed_and_stage("small")
        figures = devices.compute(AS_OF, catalogue=seed_catalogue())
        devices.write(figures)
    hub_settings.reset_settings()
    yield figures
    patch.undo()
    hub_settings.reset_settings()


def _json(service_url: str, path: str) -> dict:
    with urllib.request.urlopen(service_url + path, timeout=30) as response:
        return json.load(response)


def test_the_dashboard_shows_the_online_rate_against_90_percent(device_figures, page, service_url):
    expected = _json(service_url, "/api/coverage")["devices"]
    assert expected["video"] == device_figures["video"]
    page.goto(service_url + "/")
    section = page.locator("[data-testid=device-coverage]")
    section.scroll_into_view_if_needed()
    overall = expected["video"]["overall"]
    assert page.inner_text("[data-testid=online-rate]") == f"{overall['online_ratio'] * 100:.1f}%"
    assert "目标 90%" in section.inner_text()
    rows = page.locator("[data-testid=device-clouds] tbody tr")
    assert rows.count() == len(VIDEO_CLOUDS)
    for number, cloud in enumerate(expected["video"]["by_cloud"]):
        text = rows.nth(number).inner_text()
        assert cloud["title"] in text and f"{cloud['online_ratio'] * 100:.1f}%" in text
    # each bar carries its target line at 90 % of its width
    bar = rows.first.locator("svg.device-bar")
    assert bar.locator("line").get_attribute("x1") == str(240 * 0.9)
    departments = page.locator("[data-testid=device-departments] tbody tr")
    assert departments.count() == len(expected["video"]["by_department"]) == 21
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(ARTIFACTS / "dashboard-device-coverage.png"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-with-device-coverage.png"), full_page=True)
    assert page.console_errors == []


def test_a_department_page_shows_its_channels(device_figures, page, service_url):
    expected = _json(service_url, "/api/departments/cgj")["devices"]
    page.goto(service_url + "/departments/cgj")
    panel = page.locator("[data-testid=department-devices]")
    assert f"{expected['overall']['online_ratio'] * 100:.1f}%" in panel.inner_text()
    assert "城市视频专网视频云平台" in panel.inner_text()
    assert page.console_errors == []
