"""Browser fixtures: the catalogue service on a free port (uvicorn in a thread), loaded with the
seed catalogue plus evidence events applied through catalog.events, and Debian's headless Chromium
driven by Playwright. Screenshots go to var/test-artifacts/.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "var" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these Chromium waits on the network (closed here) and on a GPU; a fresh profile per run.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HISTORY_DAYS = 10
TARGET_DATE = date(2026, 12, 31)


def demo_events(catalogue, now: datetime) -> list[dict]:
    """Evidence for the seed's bound resources over the last HISTORY_DAYS days, one outcome per tenth:
    never produced, landing failed, stale, failing a critical rule, below threshold, or aggregated."""
    from hub.events import make_event

    bound = sorted((r for r in catalogue.resources if r.binding), key=lambda r: r.code)
    events = []
    for index, resource in enumerate(bound):
        outcome = index % 10
        joined = HISTORY_DAYS - index * HISTORY_DAYS // len(bound)  # days ago its data started to flow
        start = now - timedelta(days=joined, hours=2)
        if outcome == 9:
            continue  # bound, the connector never produced
        events.append(
            make_event(
                "connector.produced",
                resource.id,
                ts=start,
                run_id=f"{resource.id}-run-1",
                records=1000 + index,
                dlq_records=index % 4,
                source=resource.binding.system,
                offsets={"0": [0, 999 + index]},
            )
        )
        if outcome == 8:
            events.append(
                make_event(
                    "landing.failed",
                    resource.id,
                    ts=start + timedelta(minutes=30),
                    load_id=f"{resource.id}-0",
                    error="schema check failed: column gmsfhm missing",
                )
            )
            continue
        days_ago = [joined + 400] if outcome == 7 else range(joined, -1, -1)  # 7: landed once, long ago
        for number, back in enumerate(days_ago, start=1):
            events += _load(resource, now - timedelta(days=back, minutes=20), number, outcome)
    return events


def _load(resource, at: datetime, number: int, outcome: int) -> list[dict]:
    from hub.events import make_event

    load_id = f"{resource.id}-{number}"
    rows = 1000 + number
    first = (number - 1) * rows
    landing = make_event(
        "landing.completed",
        resource.id,
        ts=at,
        load_id=load_id,
        rows=rows,
        dlq_rows=number % 3,
        files=[
            f"{resource.domain}/{resource.id}/dt={at.date()}/hub.raw.{resource.id}-0-{first}-{first + rows - 1}.parquet"
        ],
        offsets={"0": [first, first + rows - 1]},
        max_event_time=(at - timedelta(minutes=5)).isoformat(),
    )
    critical, warning = _failing_checks(resource)
    if outcome == 6:
        failed = [{"name": critical, "critical": True, "failed_rows": 37}]
        valid = rows - 37
    elif outcome == 5:
        failed, valid = [{"name": warning, "critical": False, "failed_rows": rows // 5}], rows - rows // 5
    else:
        failed, valid = [], rows
    quality = make_event(
        "quality.completed",
        resource.id,
        ts=at + timedelta(minutes=2),
        load_id=load_id,
        rows_checked=rows,
        rows_valid=valid,
        failed_rules=failed,
        failed_critical=[rule["name"] for rule in failed if rule["critical"]],
    )
    return [landing, quality]


def _failing_checks(resource) -> tuple[str, str]:
    """The names of a critical check on the key (its domain rule, if it has one) and of a warning check, as
    the quality gate names them for this resource."""
    from quality.plan import plan_checks

    checks = plan_checks(resource)
    key = next((item.name for item in resource.items if item.key), resource.items[0].name)
    on_key = [check for check in checks if check.columns == (key,) and check.severity == "critical"]
    critical = next((check for check in on_key if check.kind == "rule"), on_key[0] if on_key else checks[0])
    warning = next((check for check in checks if check.severity == "warning"), critical)
    return critical.name, warning.name


def seed_service_db(url: str, now: datetime) -> None:
    """The seed catalogue, demo evidence, and a daily snapshot for each of the last HISTORY_DAYS days."""
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.snapshots import coverage_report, take_snapshot
    from catalog.spec import load_catalogue
    from catalog.store import load_catalogue_into

    catalogue = load_catalogue(REPO / "catalog" / "seed")
    with session_scope(url) as session:
        load_catalogue_into(session, catalogue, now=now - timedelta(days=HISTORY_DAYS + 400))
        apply_events(session, demo_events(catalogue, now))
    with session_scope(url) as session:
        for back in range(HISTORY_DAYS, 0, -1):
            day = now - timedelta(days=back)
            take_snapshot(session, coverage_report(session, day, target=0.7, target_date=TARGET_DATE), day)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def service_url(tmp_path_factory) -> str:
    """http://127.0.0.1:<port> of the service on a seeded catalogue, for one test module.

    Module scope: the HUB_* environment it sets (which the server reads per request) is restored when
    the module ends, so tests collected after it (a Kafka broker under var/, say) see their own.
    """
    import uvicorn

    from hub import settings as hub_settings

    var_dir = tmp_path_factory.mktemp("service") / "var"
    patch = pytest.MonkeyPatch()
    patch.setenv("HUB_VAR_DIR", str(var_dir))
    patch.delenv("HUB_CATALOG_URL", raising=False)
    patch.setenv("HUB_TARGET_DATE", TARGET_DATE.isoformat())
    patch.setenv("HUB_API_TOKEN", secrets.token_urlsafe(32))  # the service refuses the placeholder
    hub_settings.reset_settings()
    db_url = f"sqlite:///{var_dir / 'catalog.db'}"
    seed_service_db(db_url, datetime.now(timezone.utc))
    from catalog.service.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db_url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the catalogue service did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    patch.undo()
    hub_settings.reset_settings()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed: run scripts/system-deps.sh browser (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh page that records console errors and page errors; a screenshot is kept at the end."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
