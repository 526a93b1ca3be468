"""The workspace's JSON routes without a browser: who sees which saved queries, export jobs end in a
state with their row count and their files expire, and the write guards (identity, JSON only)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from catalog import accounts
from catalog import workspace as catalog_workspace
from catalog.db import session_scope
from catalog.identity import Identity
from catalog.models import ExportJob
from hub import clock
from hub import settings as hub_settings

TOKEN = "workspace-api-token-0123456789"


class CountingAnalysis:
    """An Analysis that writes a small real file: what this test is about is the job's bookkeeping."""

    def describe(self, identity: Identity) -> list[dict]:
        return []

    def query(self, identity: Identity, sql: str) -> catalog_workspace.Answer:
        return catalog_workspace.Answer(True, columns=["n"], rows=[[1]], row_count=1)

    def export(self, identity: Identity, sql: str, fmt: str, destination: Path) -> catalog_workspace.Answer:
        if "fail" in sql:
            return catalog_workspace.Answer(False, "refused: not one of your views")
        destination.write_bytes(b"\xef\xbb\xbf" + b"n\n" + b"1\n" * 3)
        return catalog_workspace.Answer(True, row_count=3)


@pytest.fixture
def client(hub_env, monkeypatch, small_catalogue, t0):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app
    from catalog.store import load_catalogue_into

    monkeypatch.setenv("HUB_API_TOKEN", TOKEN)
    hub_settings.reset_settings()
    url = hub_settings.get_settings().catalog_url
    with session_scope(url) as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
    catalog_workspace.use_analysis(CountingAnalysis())
    with TestClient(create_app(url), raise_server_exceptions=False) as test_client:
        yield test_client
    catalog_workspace.use_analysis(None)


def _token(user: str, department: str) -> dict:
    with session_scope() as session:
        account = accounts.add_account(session, user, department=department, role="analyst", created_by="test")
        return {"Authorization": f"Bearer {accounts.issue_token(session, account)}"}


def test_saved_queries_are_mine_or_shared_with_my_department(client):
    wang, li, zhao = _token("wang", "gaj"), _token("li", "gaj"), _token("zhao", "scjgj")
    mine = client.post("/workspace/api/queries", json={"title": "私有", "sql": "SELECT 1"}, headers=wang)
    shared = client.post(
        "/workspace/api/queries", json={"title": "共享", "sql": "SELECT 2", "shared": True}, headers=wang
    )
    assert mine.status_code == shared.status_code == 201, mine.text
    seen = {
        user: client.get("/workspace/api/queries", headers=h).json()["queries"]
        for user, h in (("wang", wang), ("li", li), ("zhao", zhao))
    }
    assert [q["title"] for q in seen["wang"]] == ["共享", "私有"]
    assert [(q["title"], q["mine"]) for q in seen["li"]] == [("共享", False)]  # same department: shared only
    assert seen["zhao"] == []  # another department sees none
    assert client.delete(f"/workspace/api/queries/{shared.json()['id']}", headers=li).status_code == 404
    assert client.delete(f"/workspace/api/queries/{shared.json()['id']}", headers=wang).status_code == 200
    assert client.get("/workspace/api/queries", headers=li).json()["queries"] == []


def test_writes_need_an_identity_and_json(client):
    wang = _token("wang", "gaj")
    assert client.post("/workspace/api/query", json={"sql": "SELECT 1"}).status_code == 401
    form = client.post("/workspace/api/query", data={"sql": "SELECT 1"}, headers=wang)
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    assert client.post("/workspace/api/query", json={"sql": "SELECT 1"}, headers=wang).json()["rows"] == [[1]]
    page = client.get("/workspace", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fworkspace"


def test_export_jobs_record_rows_or_the_reason_and_expire(client):
    wang, li = _token("wang", "gaj"), _token("li", "gaj")
    done = client.post("/workspace/api/exports", json={"sql": "SELECT 1", "format": "csv"}, headers=wang)
    failed = client.post("/workspace/api/exports", json={"sql": "SELECT fail", "format": "xlsx"}, headers=wang)
    assert done.status_code == failed.status_code == 202
    client.app.state.export_pool.shutdown(wait=True)  # the background jobs have ended
    client.app.state.export_pool = None
    jobs = {j["id"]: j for j in client.get("/workspace/api/exports", headers=wang).json()["exports"]}
    ok, bad = jobs[done.json()["id"]], jobs[failed.json()["id"]]
    assert (ok["status"], ok["rows"], bad["status"], bad["reason"]) == (
        "done",
        3,
        "failed",
        "refused: not one of your views",
    )
    assert client.get(ok["download"], headers=li).status_code == 404  # someone else's export
    file = client.get(ok["download"], headers=wang)
    assert file.status_code == 200 and file.content.startswith(b"\xef\xbb\xbf")
    with session_scope() as session:
        job = session.get(ExportJob, ok["id"])
        path = catalog_workspace.export_path(hub_settings.get_settings().var_dir / "exports", job)
        assert path.exists()
        later = clock.now() + timedelta(hours=hub_settings.get_settings().export_keep_hours, minutes=1)
        assert catalog_workspace.expire_exports(session, path.parent, later) == 1
    assert not path.exists()
    assert client.get(ok["download"], headers=wang).status_code == 409


def test_marts_have_their_own_pages_with_lineage(client):
    listed = client.get("/api/marts").json()["marts"]
    assert {m["view"] for m in listed} >= {"mart.utility_use_by_town_and_month", "mart.population_by_town_age_sex"}
    utility = client.get("/api/marts/utility_use_by_town_and_month").json()
    assert [r["id"] for r in utility["reads"]] == ["electricity_readings", "water_readings", "gas_readings"]
    assert any(c["name"] == "complete" for c in utility["columns"])
    page = client.get("/marts/utility_use_by_town_and_month", headers={"Accept": "text/html"})
    assert (
        page.status_code == 200
        and "各镇街水电气月用量" in page.text
        and "/api/marts/utility_use_by_town_and_month" in page.text
    )
    missing = client.get("/api/marts/nothing_here")
    assert missing.status_code == 404 and "/api/marts lists them" in missing.json()["error"]["message"]
