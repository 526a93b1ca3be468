"""The catalogue service's API in process: JSON twins of every page, /api/coverage == `hub coverage --json`,
one error shape everywhere, the token on writes, and registering a resource through the event path."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

import orjson
import pytest

from hub import settings as hub_settings

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html"}
ERROR_KEYS = {"status", "code", "message", "details"}


@pytest.fixture
def as_of(t0) -> str:
    return (t0 + timedelta(hours=1)).isoformat()


@pytest.fixture
def catalog_url(hub_env, monkeypatch, small_catalogue, evidence_events, t0) -> str:
    """The small catalogue and its evidence in the isolated catalogue DB; target date and token fixed."""
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.store import load_catalogue_into

    monkeypatch.setenv("HUB_TARGET_DATE", "2026-12-31")
    monkeypatch.setenv("HUB_API_TOKEN", TOKEN)
    hub_settings.reset_settings()
    url = hub_settings.get_settings().catalog_url
    with session_scope(url) as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
        apply_events(session, evidence_events)
    return url


@pytest.fixture
def client(catalog_url):
    from fastapi.testclient import TestClient

    from catalog.service.app import create_app

    with TestClient(create_app(catalog_url), raise_server_exceptions=False) as test_client:
        yield test_client


def _cli_coverage_json(as_of: str) -> dict:
    import typer
    from typer.testing import CliRunner

    from catalog.cli import coverage

    cli = typer.Typer()
    cli.command()(coverage)
    result = CliRunner().invoke(cli, ["--json", "--as-of", as_of])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def _assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    assert body["error"]["status"] == status and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# --- reads -----------------------------------------------------------------------------------------


def test_api_coverage_is_exactly_what_the_cli_prints(client, as_of):
    from_api = client.get("/api/coverage", params={"as_of": as_of})
    assert from_api.status_code == 200
    assert from_api.json() == _cli_coverage_json(as_of)
    assert from_api.json()["overall"] == {"aggregated": 1, "total": 6, "ratio": 0.1667}


def test_reading_never_stores_a_snapshot_at_any_as_of(client, catalog_url, as_of):
    from sqlalchemy import select

    from catalog.db import session_scope
    from catalog.models import CoverageSnapshot
    from catalog.snapshots import snapshot_today

    def snapshots() -> list[tuple]:
        with session_scope(catalog_url) as session:
            return [
                (row.snapshot_date, row.definition_version, row.ratio)
                for row in session.scalars(select(CoverageSnapshot).order_by(CoverageSnapshot.id))
            ]

    snapshot_today(datetime.fromisoformat(as_of) - timedelta(days=1), url=catalog_url)  # the daily job, yesterday
    before = snapshots()
    assert len(before) == 1
    for when in (as_of, "2026-04-01", "2026-05-20", "2027-01-15T08:00:00+08:00", None):
        params = {"as_of": when} if when else {}
        for path in ("/api/coverage", "/api/dashboard", "/api/departments", "/api/departments/gaj", "/"):
            assert client.get(path, params=params).status_code == 200, (path, when)
    assert snapshots() == before


@pytest.mark.parametrize(
    "path, twin, shown",
    [
        ("/", "/api/dashboard", lambda data: data["coverage"]["overall"]["ratio"]),
        ("/resources", "/api/resources", lambda data: data["resources"][0]["name"]),
        ("/resources?department=gaj", "/api/resources?department=gaj", lambda data: data["resources"][-1]["name"]),
        ("/resources/hjrk_jbxx", "/api/resources/hjrk_jbxx", lambda data: data["resource"]["abstract"]),
        ("/departments", "/api/departments", lambda data: data["departments"][0]["display_name"]),
        ("/departments/scjgj", "/api/departments/scjgj", lambda data: data["gaps"][0]["name"]),
    ],
)
def test_every_page_links_its_json_twin_and_shows_its_figures(client, as_of, path, twin, shown):
    separator = "&" if "?" in path else "?"
    page = client.get(f"{path}{separator}as_of={quote(as_of)}", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    link = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)">', page.text)
    assert link is not None
    assert link.group(1).replace("&amp;", "&").startswith(twin)
    data = client.get(link.group(1).replace("&amp;", "&")).json()
    value = shown(data)
    expected = f"{value * 100:.1f}%" if isinstance(value, float) else value
    assert expected in page.text


def test_the_dashboard_twin_holds_target_groupings_and_gaps(client, as_of):
    data = client.get("/api/dashboard", params={"as_of": as_of}).json()
    assert data["target"] == {
        "target": 0.7,
        "target_date": "2026-12-31",
        "source": "settings",
        "set_at": None,
        "note": None,
    }
    assert data["coverage"]["projection"]["resources_needed"] == 4  # ceil(0.7 * 6) - 1
    assert {row["department_id"] for row in data["by_department"]} == {"gaj", "scjgj", "dljd"}
    assert data["top_gaps"][0]["reason_label"] and data["top_gaps"][0]["next_step"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"q": "hjrk"}, ["hjrk_jbxx"]),
        ({"q": "gmsfhm"}, ["hjrk_jbxx", "ldrk_jbxx", "qy_jbxx", "gtgsh_jbxx", "sqwg_xx", "dl_sp"]),
        ({"q": "公民身份"}, ["hjrk_jbxx", "ldrk_jbxx", "qy_jbxx", "gtgsh_jbxx", "sqwg_xx", "dl_sp"]),
        ({"department": "scjgj"}, ["qy_jbxx", "gtgsh_jbxx"]),
        ({"domain": "legal_entity", "q": "qy"}, ["qy_jbxx"]),
        ({"status": "aggregated"}, ["hjrk_jbxx"]),
        ({"status": "no binding"}, ["sqwg_xx"]),
        ({"status": "failing rule"}, ["ldrk_jbxx"]),
        ({"sharing_type": "有条件共享"}, ["hjrk_jbxx"]),
        ({"q": "no such thing"}, []),
    ],
)
def test_resources_search_and_filters(client, as_of, params, expected):
    data = client.get("/api/resources", params={**params, "as_of": as_of}).json()
    assert [row["id"] for row in data["resources"]] == expected
    assert data["count"] == len(expected)


def test_search_names_the_matching_information_items(client, as_of):
    row = client.get("/api/resources", params={"q": "公民身份号码", "as_of": as_of}).json()["resources"][0]
    assert row["matched_items"] == [{"name": "gmsfhm", "label": "公民身份号码"}]


def test_a_resource_shows_its_evidence_freshness_and_lineage(client, as_of):
    data = client.get("/api/resources/101001/000001", params={"as_of": as_of}).json()  # by code
    assert data["resource"]["id"] == "hjrk_jbxx"
    assert data["coverage"]["status"] == "aggregated" and data["lifecycle"]["status"] == "passing"
    landings = data["evidence"]["landings"]
    assert [(row["load_id"], row["succeeded"]) for row in landings] == [("hjrk_jbxx-1", True), ("hjrk_jbxx-0", False)]
    assert landings[0]["rows"] == 1000 and landings[0]["offsets"] == {"0": [0, 999]}
    assert landings[0]["files"] == ["hjrk_jbxx/p0/hjrk_jbxx-1.parquet"]
    assert data["evidence"]["quality_runs"][0]["pass_rate"] == 0.99
    assert data["evidence"]["connector_runs"][0]["records"] == 1000
    assert data["freshness"]["fresh"] is True and data["freshness"]["max_age_hours"] == 36.0
    # The source's own clock beside ours: its newest record changed an hour before the landing.
    assert data["freshness"]["source_changed_at"] == "2026-05-01T05:30:00+00:00"
    assert data["freshness"]["timeliness"] == {"status": "timely", "label": "更新及时", "timely": True, "since": None}
    assert [step["stage"] for step in data["lineage"]] == ["source", "topic", "lake", "raw", "staging", "marts"]
    assert data["derived"]["topics"]["raw"] == f"{hub_settings.get_settings().topic_prefix}hub.raw.hjrk_jbxx"
    assert data["derived"]["key_columns"] == ["gmsfhm"]
    assert {entry["kind"] for entry in data["timeline"]} == {"connector", "landing", "quality", "status"}


def test_a_failing_resource_says_which_rule_and_what_to_do(client, as_of):
    data = client.get("/api/resources/ldrk_jbxx", params={"as_of": as_of}).json()
    assert data["coverage"]["status"] == "failing rule gmsfhm_valid"
    assert data["evidence"]["quality_runs"][0]["failed_critical"] == ["gmsfhm_valid"]
    assert data["coverage"]["next_step"]


def test_a_department_page_lists_what_blocks_each_gap(client, as_of):
    data = client.get("/api/departments/dljd", params={"as_of": as_of}).json()
    assert data["coverage"]["total"] == 2 and data["coverage"]["aggregated"] == 0
    assert {(gap["resource_id"], gap["reason"]) for gap in data["gaps"]} == {
        ("sqwg_xx", "no binding"),
        ("dl_sp", "never produced"),
    }
    assert all(gap["next_step"] for gap in data["gaps"])


def test_the_catalogue_is_served_as_dcat_jsonld(client):
    from rdflib import RDF, Graph
    from rdflib.namespace import DCAT

    response = client.get("/catalog.jsonld")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    graph = Graph().parse(data=response.text, format="json-ld")
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 6
    assert len(set(graph.subjects(RDF.type, DCAT.Distribution))) == 4  # the four landed resources


def test_the_openapi_spec_documents_the_routes_and_the_error_shape(client):
    spec = client.get("/openapi.json").json()
    assert {
        "/api/coverage",
        "/api/resources",
        "/api/resources/{resource_id}",
        "/api/settings/target",
        "/catalog.jsonld",
        "/",
    } <= set(spec["paths"])
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "401" in spec["paths"]["/api/settings/target"]["put"]["responses"]


# --- errors ----------------------------------------------------------------------------------------


def test_one_error_shape_for_every_error(client, monkeypatch):
    from catalog.service import views

    _assert_error(client.get("/no/such/page"), 404, "not_found")
    _assert_error(client.get("/api/resources/nope"), 404, "not_found")
    _assert_error(client.get("/api/departments/nope"), 404, "not_found")
    _assert_error(client.get("/api/coverage", params={"as_of": "yesterday"}), 422, "invalid_request")
    _assert_error(client.get("/api/coverage", params={"as_of": "0001-01-01T00:00:00+01:00"}), 422, "invalid_request")
    details = _assert_error(client.get("/api/resources", params={"status": "bogus"}), 422, "invalid_request")["details"]
    assert details[0]["loc"] == ["query", "status"]
    _assert_error(client.delete("/api/coverage"), 405, "method_not_allowed")
    _assert_error(client.put("/api/settings/target", json={"target": 0.8, "target_date": "2026-12-31"}), 401)
    _assert_error(client.put("/api/settings/target", json={"target": 2}, headers=AUTH), 422, "invalid_request")
    monkeypatch.setattr(views, "dashboard", lambda *args, **kwargs: 1 / 0)
    error = _assert_error(client.get("/api/dashboard"), 500, "internal_error")
    assert "ZeroDivisionError" not in error["message"]  # no internals leak


def test_pages_draw_the_same_error_in_html(client):
    response = client.get("/resources/nope", headers=HTML)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "not_found" in response.text and "nope" in response.text
    assert client.get("/resources?status=bogus", headers=HTML).status_code == 422


# --- writes ----------------------------------------------------------------------------------------


def test_writes_need_the_token_and_reads_stay_open(client, as_of):
    body = {"target": 0.8, "target_date": "2026-10-31", "note": "区政府常务会议调整"}
    _assert_error(client.put("/api/settings/target", json=body), 401, "unauthorized")
    wrong = _assert_error(client.put("/api/settings/target", json=body, headers={"Authorization": "Bearer nope"}), 401)
    assert TOKEN not in wrong["message"]
    stored = client.put("/api/settings/target", json=body, headers=AUTH)
    assert stored.status_code == 200 and stored.json()["source"] == "catalogue"
    assert client.get("/api/settings/target").json()["target"] == 0.8
    document = client.get("/api/coverage", params={"as_of": as_of}).json()
    assert document["target"] == 0.8 and document["projection"]["target_date"] == "2026-10-31"


def _entry(client, resource_id: str, **changes) -> dict:
    """A valid entry: an existing one's fields under a new id and code."""
    detail = client.get(f"/api/resources/{resource_id}").json()
    meta = detail["resource"]
    entry = {
        key: meta[key]
        for key in (
            "code",
            "name",
            "classification",
            "abstract",
            "format",
            "domain",
            "update_cycle",
            "sharing_type",
            "sharing_condition",
            "sharing_method",
            "open_type",
            "release_date",
            "priority",
            "related",
            "binding",
        )
    }
    entry |= {
        "id": resource_id,
        "provider": meta["department_id"],
        "status": meta["entry_status"],
        "items": [
            {key: item[key] for key in ("name", "label", "type", "length", "nullable", "key", "pii")}
            for item in detail["items"]
        ],
    }
    return entry | changes


def test_register_then_update_a_resource_through_the_event_path(client, as_of):
    entry = _entry(client, "sqwg_xx", id="sqwg_sj", code="101001/000009", name="社区网格事件信息")
    _assert_error(client.post("/api/resources", json=entry), 401)
    created = client.post("/api/resources", json=entry, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["event"]["type"] == "resource.registered"
    assert created.json()["resource"]["coverage"]["status"] == "no binding"
    assert client.get("/api/resources", params={"q": "网格事件"}).json()["count"] == 1
    _assert_error(client.post("/api/resources", json=entry, headers=AUTH), 409, "conflict")

    renamed = client.put("/api/resources/sqwg_sj", json=entry | {"name": "社区网格事件"}, headers=AUTH)
    assert renamed.status_code == 200 and renamed.json()["event"]["type"] == "resource.updated"
    assert client.get("/api/resources/sqwg_sj").json()["resource"]["name"] == "社区网格事件"
    unchanged = client.put("/api/resources/sqwg_sj", json=entry | {"name": "社区网格事件"}, headers=AUTH)
    assert unchanged.status_code == 200 and unchanged.json()["event"] is None
    assert client.get("/api/coverage").json()["overall"]["total"] == 7


def test_an_entry_that_breaks_catalogue_rules_is_refused_with_every_reason(client):
    entry = _entry(
        client,
        "sqwg_xx",
        id="Bad-Id",
        code="999/1",
        sharing_type="有条件共享",
        sharing_condition=None,
        related=["101001/999999"],
    )
    error = _assert_error(client.post("/api/resources", json=entry, headers=AUTH), 422, "catalogue_rule")
    assert {detail["rule"] for detail in error["details"]} >= {
        "id_format",
        "code_format",
        "sharing_condition",
        "related",
    }
    _assert_error(client.post("/api/resources", json=_entry(client, "sqwg_xx", id="other_one"), headers=AUTH), 409)
    _assert_error(
        client.put(
            "/api/resources/nope", json=_entry(client, "sqwg_xx", id="nope", code="101001/000010"), headers=AUTH
        ),
        404,
    )
    _assert_error(client.put("/api/resources/sqwg_xx", json=_entry(client, "dl_sp"), headers=AUTH), 422)


def test_a_quality_run_links_its_data_docs_page_which_the_service_serves(client, as_of, catalog_url):
    from catalog.db import session_scope
    from catalog.events import apply_events
    from hub.events import make_event

    page = hub_settings.get_settings().var_dir / "quality" / "docs" / "validations" / "hub" / "run.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html>gmsfhm.resident_id</html>", encoding="utf-8")
    with session_scope(catalog_url) as session:
        apply_events(
            session,
            [
                make_event(
                    "quality.completed",
                    "ldrk_jbxx",
                    load_id="ldrk_jbxx-2",
                    rows_checked=100,
                    rows_valid=98,
                    quarantined_rows=2,
                    repairs={"resident_id_upper_x": 3},
                    docs="validations/hub/run.html",
                    failed_rules=[{"name": "gmsfhm.resident_id", "critical": True, "failed_rows": 2, "success": True}],
                    failed_critical=[],
                )
            ],
        )
    run = client.get("/api/resources/ldrk_jbxx").json()["evidence"]["quality_runs"][0]
    assert (run["docs"], run["quarantined_rows"], run["repairs"]) == (
        "/quality/docs/validations/hub/run.html",
        2,
        {"resident_id_upper_x": 3},
    )
    html = client.get("/resources/ldrk_jbxx", headers=HTML).text
    assert 'href="/quality/docs/validations/hub/run.html"' in html and "隔离 2 行" in html
    assert client.get(run["docs"]).status_code == 401  # the Data Docs need an identity
    assert "gmsfhm.resident_id" in client.get(run["docs"], headers=AUTH).text  # the service token is an admin


def test_a_failing_rule_reads_in_chinese_with_its_code_beside(client, catalog_url, as_of, t0):
    from catalog.db import session_scope
    from catalog.events import apply_events
    from hub.events import make_event

    rule = "gmsfhm.resident_id"
    failed = [{"name": rule, "critical": True, "failed_rows": 5}, {"name": "xm.text_intact", "critical": False}]
    with session_scope(catalog_url) as session:
        apply_events(
            session,
            [
                make_event(
                    "quality.completed",
                    "ldrk_jbxx",
                    ts=t0 - timedelta(hours=1),
                    load_id="ldrk_jbxx-2",
                    rows_checked=1000,
                    rows_valid=995,
                    failed_rules=failed,
                    failed_critical=[rule],
                )
            ],
        )
    label = "质量规则未通过：公民身份号码 校验不通过（地区码、出生日期或校验位错误）"
    coverage = client.get("/api/resources/ldrk_jbxx", params={"as_of": as_of}).json()["coverage"]
    assert (coverage["label"], coverage["rule_code"]) == (label, rule)
    gaps = client.get("/api/departments/gaj", params={"as_of": as_of}).json()["gaps"]
    assert [(gap["reason_label"], gap["rule_code"]) for gap in gaps] == [(label, rule)]
    grey_code = f'<code class="small muted">{rule}</code>'
    for path in ("/", "/departments/gaj"):  # the Chinese label, the code beside it in small grey
        html = client.get(path, params={"as_of": as_of}, headers=HTML).text
        assert f"{label}</span> {grey_code}" in html, path
    page = client.get("/departments/gaj", params={"as_of": as_of}, headers=HTML).text
    assert f"未通过 公民身份号码 校验不通过（地区码、出生日期或校验位错误） {grey_code}" in page  # the scorecard
    page = client.get("/resources/ldrk_jbxx", params={"as_of": as_of}, headers=HTML).text
    assert "姓名 含乱码或源系统无法保存的字符 <code" in page and f"{grey_code}（关键）" in page  # the evidence
