"""The simulated history as leadership sees it: after the ten simulated days the `simulation` tests
share (tests/sim_kit.py), the dashboard in real headless Chromium draws ten daily points with the
outage's dip, and the PDF report's trend page shows the same. Both are kept as PNGs in
var/test-artifacts/ (simulation-dashboard-trend.png, simulation-report-trend.png)."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.simulation

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts"  # where tests/browser/conftest.py keeps screenshots
DAYS = 10
START = date(2026, 9, 23)
LAST_DAY = START + timedelta(days=DAYS - 1)
LAST_DAY_AT = f"{LAST_DAY.isoformat()}T10:45:00+08:00"  # after the last day's snapshot (10:30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def simulated_home(simulation) -> Path:
    return simulation.home


@pytest.fixture(scope="module")
def simulated_service(simulated_home) -> str:
    """The catalogue service on the simulated home, its clock at the simulation's last day."""
    import uvicorn

    from hub import settings as hub_settings

    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(simulated_home))
    patch.delenv("HUB_CATALOG_URL", raising=False)
    patch.setenv("HUB_TARGET_DATE", "2026-12-31")
    patch.setenv("HUB_CLOCK_AT", LAST_DAY_AT)
    patch.setenv("HUB_API_TOKEN", secrets.token_urlsafe(32))
    hub_settings.reset_settings()
    from catalog.service.app import create_app

    port = _free_port()
    app = create_app(f"sqlite:///{simulated_home / 'catalog.db'}")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the catalogue service did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    patch.undo()
    hub_settings.reset_settings()


def test_the_dashboard_draws_the_simulated_days(page, simulated_service):
    with urllib.request.urlopen(simulated_service + "/api/coverage", timeout=30) as response:
        coverage = json.load(response)
    trend = coverage["trend"]
    assert [point["date"] for point in trend] == [(START + timedelta(days=n)).isoformat() for n in range(DAYS)]
    aggregated = [point["aggregated"] for point in trend]
    assert min(aggregated[3:5]) < aggregated[2] and aggregated[5] > aggregated[4]  # the outage's dip, the recovery
    page.goto(simulated_service + "/")
    page.wait_for_selector("#trend-chart svg path.series")
    assert page.locator("#trend-chart circle.dot").count() == DAYS
    assert "达成目标" in page.inner_text("[data-testid=verdict]")  # ten days of history: a verdict
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#trend-chart").screenshot(path=str(ARTIFACTS / "simulation-dashboard-trend.png"))
    assert page.console_errors == []


def test_the_pdf_report_shows_the_simulated_trend(simulated_home):
    folder = simulated_home / "reports" / LAST_DAY.isoformat()
    stored = json.loads((folder / "coverage.json").read_text(encoding="utf-8"))
    assert len(stored["trend"]) == DAYS
    pdf = folder / "report.pdf"
    pages = int(
        next(
            line.split()[-1]
            for line in subprocess.run(
                ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if line.startswith("Pages:")
        )
    )
    trend_page = next(
        number
        for number in range(1, pages + 1)
        if "趋势"
        in subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(pdf), "-"], capture_output=True, text=True
        ).stdout
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "simulation-report-trend"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-singlefile",
            "-f",
            str(trend_page),
            "-l",
            str(trend_page),
            str(pdf),
            str(target),
        ],
        check=True,
    )
    assert (ARTIFACTS / "simulation-report-trend.png").stat().st_size > 10_000
