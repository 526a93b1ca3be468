"""Device-level coverage: the warehouse counts registered, reporting and online channels of the three
video clouds from staging (real DuckDB) as an independent count over the same rows does; the
catalogue's coverage document carries them, and `hub coverage --json` = `/api/coverage` = the report's
coverage.json; the report draws one chart per cloud and its PDF page is kept as a PNG."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import unicodedata
from datetime import timedelta

import orjson
import pytest
from device_kit import AS_OF, expected_figures, seed_and_stage

from catalog.systems import VIDEO_CLOUDS
from hub import settings as hub_settings

REPO_ARTIFACTS = hub_settings.REPO_ROOT / "var" / "test-artifacts"


@pytest.fixture
def staged(hub_env, seeded_catalogue, monkeypatch):
    monkeypatch.setenv("HUB_API_TOKEN", secrets.token_urlsafe(32))  # the service refuses the placeholder
    hub_settings.reset_settings()
    return seed_and_stage("small")


@pytest.fixture
def figures(staged):
    from warehouse import devices

    return devices.compute(AS_OF)


def test_the_warehouse_counts_channels_as_an_independent_count_does(staged, figures):
    expected = expected_figures(staged)
    video = figures["video"]
    assert {c["cloud"]: (c["registered"], c["reporting"], c["online"]) for c in video["by_cloud"]} == expected["cloud"]
    assert {
        r["department"]: (r["registered"], r["reporting"], r["online"]) for r in video["by_department"]
    } == expected["department"]
    assert {r["town_code"]: (r["registered"], r["reporting"], r["online"]) for r in video["by_town"]} == expected[
        "town"
    ]
    assert {c["cloud"]: c["unregistered_reporting"] for c in video["by_cloud"]} == expected["unregistered"]
    assert all(count > 0 for count in expected["unregistered"].values())  # the stand-ins send some
    overall = video["overall"]
    assert overall["registered"] == sum(r for r, _, _ in expected["cloud"].values())
    assert overall["online_ratio"] == round(overall["online"] / overall["registered"], 4)
    assert overall["meets_target"] == (overall["online"] / overall["registered"] >= 0.9)


def test_silent_channels_count_as_registered_but_not_online(staged, figures):
    video = figures["video"]
    for cloud in video["by_cloud"]:
        assert cloud["landed"] and cloud["window_hours"] == 24.0
        assert cloud["online"] <= cloud["reporting"] < cloud["registered"]
    # 21 owning departments across the clouds; some of them below the 90 % target, some above
    assert len(video["by_department"]) == 21
    assert {row["meets_target"] for row in video["by_department"]} == {True, False}
    # a later as_of: every channel's last event falls out of the window, so none reports or is online
    from warehouse import devices

    later = devices.compute(AS_OF + timedelta(days=8))["video"]["overall"]
    assert later["registered"] == video["overall"]["registered"] and later["reporting"] == later["online"] == 0


def test_before_any_computation_the_document_says_why(hub_env, seeded_catalogue):
    from catalog.snapshots import report

    devices = report(AS_OF)["devices"]
    assert devices["computed_at"] is None and "hub warehouse devices" in devices["reason"]
    assert devices["video"]["by_cloud"] == [] and devices["video"]["online_target"] == 0.9


def _cli_document(as_of: str) -> dict:
    import typer
    from typer.testing import CliRunner

    from catalog.cli import coverage

    cli = typer.Typer()
    cli.command()(coverage)
    result = CliRunner().invoke(cli, ["--json", "--as-of", as_of])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def _report(out, *options: str):
    import typer
    from typer.testing import CliRunner

    from catalog.service_cli import register

    app, catalog_app = typer.Typer(), typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    register(app, catalog_app)
    result = CliRunner().invoke(app, ["report", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def kept(figures):
    """The computation kept for the catalogue, and an as-of after it."""
    from warehouse import devices

    devices.write(figures)
    return (AS_OF + timedelta(hours=1)).isoformat()


def test_cli_api_and_report_carry_the_same_device_figures(kept, figures, tmp_path):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app

    cli = _cli_document(kept)["devices"]
    assert cli["computed_at"] == figures["computed_at"] and cli["video"] == figures["video"]
    with TestClient(create_app(hub_settings.get_settings().catalog_url)) as client:
        api = client.get("/api/coverage", params={"as_of": kept}).json()["devices"]
        dashboard = client.get("/api/dashboard", params={"as_of": kept}).json()["devices"]
        page = client.get("/", params={"as_of": kept}).text
        department = client.get("/api/departments/gaj", params={"as_of": kept}).json()["devices"]
    assert api == cli
    assert dashboard["video"]["overall"] == cli["video"]["overall"]
    overall = cli["video"]["overall"]
    assert f"{overall['online_ratio'] * 100:.1f}%" in page and "目标 90%" in page
    gaj = next(row for row in cli["video"]["by_department"] if row["department"] == "gaj")
    assert department["overall"] == gaj and {row["cloud"] for row in department["by_cloud"]} == {"video_cloud_police"}
    folder = _report(tmp_path / "report", "--as-of", kept, "--no-pdf")
    assert orjson.loads((folder / "coverage.json").read_bytes())["devices"] == cli
    html = (folder / "report.html").read_text(encoding="utf-8")
    for cloud, title in VIDEO_CLOUDS.items():
        chart = folder / "charts" / f"devices_{cloud}.png"
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000
        assert f'src="charts/devices_{cloud}.png"' in html and title in html


def test_an_earlier_as_of_reads_the_computation_made_by_then(kept, figures):
    from warehouse import devices

    later = devices.compute(AS_OF + timedelta(days=2))
    devices.write(later)
    assert _cli_document(kept)["devices"]["computed_at"] == figures["computed_at"]
    assert _cli_document((AS_OF + timedelta(days=3)).isoformat())["devices"]["computed_at"] == later["computed_at"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium missing: scripts/system-deps.sh browser")
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm missing: apt-get install poppler-utils")
def test_the_pdf_shows_the_online_rate_against_90_percent(kept, figures, tmp_path):
    from pypdf import PdfReader

    folder = _report(tmp_path / "report", "--as-of", kept)
    pages = [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(folder / "report.pdf").pages]
    number = next(n for n, text in enumerate(pages, start=1) if "设备级汇聚" in text)
    text = "\n".join(pages[number - 1 :])
    overall = figures["video"]["overall"]
    assert f"{overall['online_ratio'] * 100:.1f}%" in text and "目标 90%" in text
    assert all(title in text for title in VIDEO_CLOUDS.values())
    REPO_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = REPO_ARTIFACTS / "report-device-coverage"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", str(number), "-l", str(number + 1), folder / "report.pdf", stem],
        check=True,
        timeout=120,
    )
    images = sorted(REPO_ARTIFACTS.glob("report-device-coverage-*.png"))
    assert images and all(image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for image in images)


def test_iot_sensors_registered_and_reporting_within_their_cadence(hub_env, seeded_catalogue):
    from device_kit import IOT_RESOURCES, expected_iot, seed_and_stage_iot

    from catalog.coverage import CoveragePolicy
    from warehouse import devices

    staged = seed_and_stage_iot("tiny")
    policy, resources = CoveragePolicy.default(), {r.id: r for r in seeded_catalogue.resources}
    cadence = {
        rid: policy.max_age_for(resources[rid].update_cycle, resources[rid].freshness_grace_hours).total_seconds()
        / 3600
        for rid in IOT_RESOURCES
    }
    for hours_after in (0, 2.9, 24):  # all report; some fell silent for longer than their cadence; none
        as_of = AS_OF + timedelta(hours=hours_after)
        expected = expected_iot(staged, cadence, as_of)
        iot = devices.compute(as_of)["iot"]
        by_type = {(r["sensor_type"], r["resource"]): (r["registered"], r["reporting"]) for r in iot["by_type"]}
        assert by_type == expected["by_type"]
        assert {r["town_code"]: (r["registered"], r["reporting"]) for r in iot["by_town"]} == expected["by_town"]
        assert {r["resource"]: r["cadence_hours"] for r in iot["by_type"]} == {
            k: round(v, 2) for k, v in cadence.items()
        }
        overall = iot["overall"]
        assert overall["registered"] == sum(registered for registered, _ in by_type.values()) == 60
        if hours_after == 0:
            assert overall["reporting"] == overall["registered"]
        elif hours_after == 2.9:
            assert 0 < overall["reporting"] < overall["registered"]
        else:
            assert overall["reporting"] == 0
