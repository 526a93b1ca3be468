"""The catalogue service against the insider's reproductions (issue items 2, 8, 9, 10, 11): the placeholder
token, absurd numbers, a write that fails half way, unbounded bodies, the Host header, PII-free Data Docs
served only to their department, and the security headers of every page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from service_kit import BASE_URL, Service, catalogue_state, entry, start

from catalog.service.hardening import MAX_BODY_BYTES
from hub import settings as hub_settings
from hub.errors import ConfigError

ID_OR_MOBILE = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9Xx])")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ids_or_mobiles(path) -> list[str]:
    """The ID numbers and mobiles in a stored file. GX's expectation and run ids are UUIDs, whose last
    group is all digits now and then (e.g. "…-a13812345678"): not a leak, so they are taken out first."""
    return ID_OR_MOBILE.findall(UUID.sub(" ", path.read_text(encoding="utf-8")))


@pytest.fixture
def service(hub_env, monkeypatch) -> Service:
    from catalog.service.app import create_app

    url, tokens = start(monkeypatch)
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        yield Service(client, tokens, url)


# --- item 8: the documented default token ----------------------------------------------------------


@pytest.mark.parametrize("token", [None, "change-me", "", "short-token", "REPLACE-hub-api-token"])
def test_the_service_refuses_to_start_on_a_weak_token(hub_env, monkeypatch, token):
    from catalog.service.app import create_app

    if token is None:
        monkeypatch.delenv("HUB_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HUB_API_TOKEN", token)
    hub_settings.reset_settings()
    with pytest.raises(ConfigError, match="HUB_API_TOKEN .*HUB_DEV_MODE=1"):
        create_app()
    monkeypatch.setenv("HUB_DEV_MODE", "1")
    hub_settings.reset_settings()
    assert create_app() is not None  # development mode, explicitly


def test_change_me_opens_nothing_and_an_id_item_cannot_become_non_pii(service):
    client = service.client
    open_all = entry(client, "hjrk_jbxx", sharing_type="无条件共享", sharing_condition=None)
    open_all["items"] = [{**item, "pii": "none"} for item in open_all["items"]]
    before = catalogue_state(service.url)
    assert client.put("/api/resources/hjrk_jbxx", json=open_all, headers=service.auth("change-me")).status_code == 401
    refused = client.put("/api/resources/hjrk_jbxx", json=open_all, headers=service.auth("wang"))
    assert refused.status_code == 422
    rules = {d["rule"] for d in refused.json()["error"]["details"]}
    assert rules == {"item_identifier_pii"}  # gmsfhm (resident_id) and lxdh (mobile)
    assert client.put("/api/resources/hjrk_jbxx", json=open_all, headers=service.auth("zhao")).status_code == 403
    assert client.put("/api/resources/hjrk_jbxx", json=open_all, headers=service.auth("li")).status_code == 403
    assert catalogue_state(service.url) == before


# --- item 9: absurd numbers, and a write that fails half way -----------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("freshness_grace_hours", 1e300),
        ("freshness_grace_hours", -1),
        ("freshness_grace_hours", float("nan")),
        ("freshness_grace_hours", float("inf")),
        ("quality_threshold", 1.5),
        ("quality_threshold", 0),
        ("quality_threshold", float("nan")),
        ("priority", 0),
        ("priority", 10**30),
    ],
)
def test_absurd_numbers_are_refused_and_nothing_is_saved(service, field, value):
    import json

    client = service.client
    before = catalogue_state(service.url)
    raw = json.dumps(entry(client, "hjrk_jbxx", **{field: value}))  # NaN and Infinity as Python writes them
    headers = {**service.auth("wang"), "Content-Type": "application/json"}
    assert client.put("/api/resources/hjrk_jbxx", content=raw, headers=headers).status_code == 422
    new = json.dumps(entry(client, "hjrk_jbxx", id="hjrk_new", code="101001/000009", **{field: value}))
    assert client.post("/api/resources", content=new, headers=headers).status_code == 422
    assert catalogue_state(service.url) == before
    for page in ("/", "/api/coverage", "/api/dashboard", "/resources", "/api/departments/gaj"):
        assert client.get(page).status_code == 200, page


def test_a_stored_absurd_grace_cannot_take_the_service_down(service):
    from sqlalchemy import update

    from catalog.db import session_scope
    from catalog.models import Resource

    with session_scope(service.url) as session:  # as a database written before the checks existed
        session.execute(update(Resource).where(Resource.id == "hjrk_jbxx").values(freshness_grace_hours=1e300))
    for page in ("/", "/api/coverage", "/api/dashboard", "/resources", "/resources/hjrk_jbxx", "/api/departments"):
        assert service.client.get(page).status_code == 200, page


def test_a_write_that_fails_after_applying_leaves_nothing_saved(service, monkeypatch):
    from catalog.service import api

    before = catalogue_state(service.url)
    body = entry(service.client, "hjrk_jbxx", name="改名")
    monkeypatch.setattr(api, "resource_detail", lambda *args, **kwargs: {"broken": float("inf")})
    answer = service.client.put("/api/resources/hjrk_jbxx", json=body, headers=service.auth("wang"))
    assert answer.status_code in (422, 500)
    assert catalogue_state(service.url) == before


# --- item 10: unbounded bodies -----------------------------------------------------------------------


def test_a_huge_body_is_refused_before_it_is_read(service):
    huge = b'{"x": "' + b"a" * (30 * 1024 * 1024) + b'"}'
    for headers in ({}, service.auth("service")):
        answer = service.client.post(
            "/api/resources", content=huge, headers={**headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_body_over_the_limit_is_cut_off(service):
    def chunks():
        for _ in range(3):
            yield b" " * MAX_BODY_BYTES

    answer = service.client.put(
        "/api/settings/target",
        content=chunks(),
        headers={**service.auth("service"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


def test_a_body_without_a_token_is_refused_unread(service):
    answer = service.client.post("/api/resources", content=b"{" * 1000, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401  # not 422: the body was never parsed


# --- item 11: the Host header ------------------------------------------------------------------------


def test_dcat_ids_come_from_the_configured_base_url(service):
    answer = service.client.get("/catalog.jsonld", headers={"Host": "evil.example"})
    assert answer.status_code == 200
    assert "evil.example" not in answer.text and f"{BASE_URL}/resources/hjrk_jbxx" in answer.text


# --- headers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/resources", "/resources/hjrk_jbxx", "/departments", "/login", "/nope"])
def test_pages_carry_the_security_headers(service, path):
    answer = service.client.get(path, headers={"Accept": "text/html"})
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "http" not in csp and "*" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["referrer-policy"] == "same-origin"


# --- item 2: Data Docs ---------------------------------------------------------------------------------


def _validate_with_defects() -> str:
    """resident_population (zsj's) validated with bad IDs, mobiles and an ID in a non-PII item; its docs page."""
    from datetime import date

    import pyarrow as pa
    from seed_kit import seed_catalogue as _seed

    from catalog import derive
    from catalog.reference import make_resident_id
    from quality import suites

    resource = next(r for r in _seed().resources if r.id == "resident_population")
    good = [make_resident_id("440606", date(1970, 1, 1) + timedelta(days=n), 11 + 2 * n) for n in range(20)]
    rows = [
        {
            "gmsfhm": ident if n % 3 else ident[:17] + ("1" if ident[-1] != "1" else "2"),
            "xm": "张三",
            "xb": "1",
            "mz": "01",
            "csrq": date(1970, 1, 1) + timedelta(days=n),
            "hh": ident if n == 4 else f"4406{n:08d}",
            "yhzgx": "02",
            "hjdz_xzqh": "440606101001",
            "hjdz": f"大良街道 电话13812345{n:03d}",
            "rklx": "户籍",
            "lxdh": f"1381234{n:04d}" if n % 2 else f"2381234{n:04d}",
            "zxbz": "0",
        }
        for n, ident in enumerate(good)
    ]
    schema = derive.arrow_schema(resource)
    system = {"_event_time": service_kit_now(), "_op": "upsert", "_source": "test", "_partition": 0}
    table = pa.Table.from_pylist(
        [{**{f.name: None for f in schema}, **system, "_offset": n, **row} for n, row in enumerate(rows)], schema=schema
    )
    run = suites.validate(resource, table.to_pandas(), table=table, run_name="load-pii", docs=True)
    assert run.failed_checks  # the defects were found (and so sampled)
    return run.docs_path


def service_kit_now():
    from service_kit import NOW

    return NOW


def test_data_docs_hold_no_id_or_mobile_and_only_their_department_reads_them(service, hub_env):
    page = _validate_with_defects()
    stored = [p for p in (hub_env / "quality").rglob("*") if p.is_file() and p.suffix in (".html", ".json")]
    assert any("[已脱敏]" in p.read_text(encoding="utf-8") for p in stored)  # samples were there, masked
    leaks = {str(p): ids_or_mobiles(p) for p in stored}
    assert not {path: found for path, found in leaks.items() if found}
    client, url = service.client, f"/quality/docs/{page}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=service.auth("li")).status_code == 403  # scjgj: not the provider (zsj)
    assert client.get(url, headers=service.auth("wang")).status_code == 403
    assert client.get(url, headers=service.auth("nonsense")).status_code == 401
    assert client.get(url, headers=service.auth("root")).status_code == 200  # platform admin
    assert client.get("/quality/docs/index.html", headers=service.auth("li")).status_code == 200


def test_signing_in_sets_an_httponly_cookie_that_opens_only_what_the_account_may_read(service):
    from catalog.service.auth import SESSION_COOKIE

    page = _validate_with_defects()
    client = service.client
    assert client.post("/login", data={"token": "hub_wrong"}).status_code == 401
    signed = client.post(
        "/login", data={"token": service.tokens["li"], "next": "//evil.example/"}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/quality/docs/"  # no open redirect
    cookie = signed.headers["set-cookie"]
    assert {"httponly", "samesite=strict", "secure"} <= {part.strip().lower() for part in cookie.split(";")}
    client.cookies.set(SESSION_COOKIE, cookie.split(";")[0].split("=", 1)[1])  # the https base URL: Secure
    assert client.get("/quality/docs/index.html").status_code == 200
    assert client.get(f"/quality/docs/{page}").status_code == 403  # li is scjgj's, the page zsj's
    assert client.put("/api/settings/target", json={"target": 0.8, "target_date": "2026-12-31"}).status_code == 401
    client.post("/logout")
    assert client.get("/quality/docs/index.html").status_code == 401


def test_results_stored_before_masking_are_masked_when_the_docs_are_rebuilt(hub_env):
    import json

    from seed_kit import seed_catalogue as _seed

    from catalog import derive
    from quality import suites

    _validate_with_defects()
    stored = [p for p in (hub_env / "quality").rglob("*.json") if "validations" in p.parts]
    assert stored
    old = json.loads(stored[0].read_text(encoding="utf-8"))  # as a result stored before masking existed
    sample = next(r for r in old["results"] if r["expectation_config"]["kwargs"].get("column") == "gmsfhm")
    sample["result"]["partial_unexpected_list"] = ["44060619900101123X", "13812345678"]
    stored[0].write_text(json.dumps(old), encoding="utf-8")
    resource = next(r for r in _seed().resources if r.id == "resident_population")
    assert suites.build_docs({resource.id: derive.pii_columns(resource)}) == 1
    files = [p for p in (hub_env / "quality").rglob("*") if p.is_file() and p.suffix in (".html", ".json")]
    assert not [p for p in files if ids_or_mobiles(p)]
