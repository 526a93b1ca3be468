"""The service attack corpus (service_corpus.yaml) against the real app: every case refused or harmless,
nothing leaked, no server error, security headers on every answer, and no refused write saved."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from service_kit import SERVICE_TOKEN, Service, catalogue_state, entry, start

CORPUS = yaml.safe_load((Path(__file__).with_name("service_corpus.yaml")).read_text(encoding="utf-8"))
KINDS = {"rights", "masking", "exhaustion", "metadata", "file_access"}
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


def test_the_corpus_is_large_and_well_formed():
    assert len(CORPUS) >= 30
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)
    assert {case["kind"] for case in CORPUS} <= KINDS
    assert all(case["expect"] and 500 not in case["expect"] for case in CORPUS)


@pytest.fixture
def service(hub_env, monkeypatch) -> Service:
    from catalog.service.app import create_app

    url, tokens = start(monkeypatch)
    docs = hub_env / "quality" / "docs"
    for path, text in (
        ("index.html", "DOCS-INDEX"),
        ("validations/hub/hjrk_jbxx/run/page.html", "DOCS-PAGE"),
        ("expectations/hub/hjrk_jbxx.html", "DOCS-SUITE"),
        ("checkpoints/x.html", "DOCS-OTHER"),
    ):
        (docs / path).parent.mkdir(parents=True, exist_ok=True)
        (docs / path).write_text(f"<html>{text}</html>", encoding="utf-8")
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        yield Service(client, tokens, url)


def _token(service: Service, value: str) -> str:
    """`@user` in a form stands for that account's token; `@service` for HUB_API_TOKEN."""
    if value.startswith("@"):
        return SERVICE_TOKEN if value == "@service" else service.tokens[value[1:]]
    return value


def _body(service: Service, case: dict) -> tuple[dict, bytes | None]:
    if "json" in case:
        return {"Content-Type": "application/json"}, json.dumps(case["json"]).encode()
    if "raw" in case:
        return {"Content-Type": "application/json"}, case["raw"].encode()
    if "repeat" in case:
        return {"Content-Type": "application/json"}, (case["repeat"]["text"] * case["repeat"]["times"]).encode()
    if "form" in case:
        form = {key: _token(service, value) for key, value in case["form"].items()}
        return {"Content-Type": "application/x-www-form-urlencoded"}, _urlencode(form)
    if "entry" in case:
        spec = case["entry"]
        body = entry(service.client, spec["resource"], **spec.get("changes", {}))
        kinds = {name: "none" for name in spec.get("pii_none", [])} | spec.get("pii_kind", {})
        body["items"] = [{**item, "pii": kinds.get(item["name"], item["pii"])} for item in body["items"]]
        return {"Content-Type": "application/json"}, json.dumps(body).encode()
    if "raw_entry" in case:  # a number JSON libraries refuse to write (NaN, 1e300 as typed)
        spec = case["raw_entry"]
        body = entry(service.client, spec["resource"], **spec.get("changes", {})) | {spec["field"]: "@@VALUE@@"}
        return {"Content-Type": "application/json"}, json.dumps(body).replace('"@@VALUE@@"', spec["literal"]).encode()
    return {}, None


def _urlencode(form: dict) -> bytes:
    from urllib.parse import urlencode

    return urlencode(form).encode()


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_attack_is_refused_or_harmless(service, case):
    headers, content = _body(service, case)
    headers |= service.auth(case["as"]) | case.get("headers", {})
    before = catalogue_state(service.url)
    answer = service.client.request(
        case["method"], case["path"], content=content, headers=headers, follow_redirects=False
    )
    assert answer.status_code != 500, answer.text[:500]
    assert answer.status_code in case["expect"], (answer.status_code, answer.text[:500])
    for leaked in case.get("absent", []):
        assert leaked not in answer.text, leaked
    assert all(name in answer.headers for name in SECURITY_HEADERS), dict(answer.headers)
    if "location" in case:
        assert answer.headers["location"] == case["location"]
    if case["method"] != "GET" and answer.status_code >= 400:
        assert catalogue_state(service.url) == before  # a refused write saved nothing
    if answer.status_code >= 400 and answer.headers.get("content-type", "").startswith("application/json"):
        assert re.fullmatch(r"[a-z_]+", answer.json()["error"]["code"])  # the one error shape
