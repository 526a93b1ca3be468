"""The Data Docs work offline in real Chromium: built by the quality gate's GX project, served by the
catalogue service, every script and style comes from this origin (no request to any other host), the
pages' tables are drawn by bootstrap-table, and no console error (the CSP admits the pages' own scripts)."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from quality import docs_assets

pytestmark = pytest.mark.skipif(
    not (docs_assets.VENDOR_DIR / "jquery" / "dist" / "jquery.min.js").is_file(),
    reason="Data Docs assets not vendored: make setup (python -m quality.docs_assets fetch, needs npm)",
)


def _build_docs() -> str:
    """A validation of the seed's resident_population stored with Data Docs; returns its page's path."""
    from seed_kit import seed_catalogue

    from catalog import derive
    from quality import suites

    resource = next(r for r in seed_catalogue().resources if r.id == "resident_population")
    schema = derive.arrow_schema(resource)
    system = {
        "_event_time": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "_op": "upsert",
        "_source": "t",
        "_partition": 0,
    }
    rows = [{**{f.name: None for f in schema}, **system, "_offset": n} for n in range(20)]
    table = pa.Table.from_pylist(rows, schema=schema)
    run = suites.validate(resource, table.to_pandas(), table=table, run_name="offline", docs=True)
    return run.docs_path


def _sign_in(page, service_url: str, next_path: str) -> None:
    from catalog import accounts
    from catalog.db import session_scope

    with session_scope() as session:
        try:
            account = accounts.find_account(session, "docs.admin")
        except accounts.AuthError:
            account = accounts.add_account(session, "docs.admin", department="zsj", role="admin", created_by="test")
        token = accounts.issue_token(session, account)
    page.goto(f"{service_url}/login?next={next_path}")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("[data-testid=login] button[type=submit]")


def test_data_docs_load_nothing_from_outside_and_draw_their_tables(page, service_url):
    validation = _build_docs()
    elsewhere = []
    page.on(
        "request",
        lambda request: (
            urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None)
            and request.url.startswith("http")
            and elsewhere.append(request.url)
        ),
    )
    failed, missing = [], []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: response.status == 404 and missing.append(urlparse(response.url).path))
    _sign_in(page, service_url, "/quality/docs/index.html")
    page.wait_for_selector(".bootstrap-table table tbody tr", timeout=20_000)
    assert page.locator(".bootstrap-table table tbody tr").count() >= 1
    assert "Success Percent 是通过的检查" in page.inner_text("[data-hub=pass-rate-note]")  # both rates explained
    page.goto(f"{service_url}/quality/docs/{validation}")
    page.wait_for_load_state("load")
    assert page.locator("table:visible").count() >= 1, (page.console_errors, failed, elsewhere)
    assert "resident_population" in page.content()
    assert elsewhere == [], elsewhere
    assert failed == [], failed
    assert page.evaluate("typeof window.jQuery") == "function"
    assert missing == [], missing  # the icon too: each page names it at its own depth (docs_assets.localise)
    assert page.console_errors == [], "\n".join(page.console_errors)
