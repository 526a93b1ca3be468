"""The catalogue service in real headless Chromium: the dashboard draws its charts, filtering resources
works, a resource page shows its evidence; no console errors. Screenshots: var/test-artifacts/."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import quote


def _json(service_url: str, path: str) -> dict:
    with urllib.request.urlopen(service_url + path, timeout=30) as response:
        return json.load(response)


def test_the_dashboard_draws_coverage_trend_and_groupings(page, service_url):
    expected = _json(service_url, "/api/dashboard")
    page.goto(service_url + "/")
    page.wait_for_selector("#trend-chart svg path.series")
    overall = expected["coverage"]["overall"]
    assert page.inner_text("[data-testid=coverage-figure] .big") == f"{overall['ratio'] * 100:.1f}%"
    assert f"已汇聚 {overall['aggregated']} / {overall['total']}" in page.inner_text("[data-testid=coverage-figure]")
    assert page.locator("#trend-chart circle.dot").count() == len(expected["coverage"]["trend"])
    assert page.locator("#trend-chart line.target").count() == 1
    assert page.locator("#trend-chart path.projection").count() == 1
    assert page.locator("#department-chart g.bar-row").count() == len(expected["by_department"])
    assert page.locator("#domain-chart g.bar-row").count() == len(expected["by_domain"])
    first_department = expected["by_department"][0]["department"]
    assert page.locator(f"#department-chart g.bar-row[data-label='{first_department}']").count() == 1
    assert page.locator("[data-testid=top-gaps] tbody tr").count() == len(expected["top_gaps"])
    projection = expected["coverage"]["projection"]
    if projection["method"] == "insufficient history":  # the report's rule: no verdict before 3 days of snapshots
        verdict = "暂不判断趋势"
    else:
        verdict = "可以达成" if projection["on_track"] else "无法达成"
    assert verdict in page.inner_text("[data-testid=verdict]")
    assert page.console_errors == []


def test_the_dashboard_shows_update_timeliness_beside_coverage(page, service_url):
    expected = _json(service_url, "/api/dashboard")["timeliness"]
    assert expected["overall"] == _json(service_url, "/api/coverage")["timeliness"]["overall"]
    page.goto(service_url + "/")
    overall = expected["overall"]
    assert 0 < overall["timely"] < overall["total"]  # the seeded evidence has sources on time and behind
    assert page.inner_text("[data-testid=timeliness-figure]") == f"{overall['ratio'] * 100:.1f}%"
    assert f"已挂接的 {overall['total']} 项资源中，{overall['timely']} 项" in page.inner_text(
        "[data-testid=timeliness]"
    )
    assert page.locator("[data-testid=timeliness-departments] tbody tr").count() == len(expected["by_department"])
    late = page.locator("[data-testid=timeliness-late] tbody tr")
    assert late.count() == len(expected["late"]) > 0
    assert expected["late"][0]["resource_code"] in late.first.inner_text()
    assert page.console_errors == []


def test_filtering_resources_narrows_the_list(page, service_url):
    everything = _json(service_url, "/api/resources")
    page.goto(service_url + "/resources")
    rows = page.locator("[data-testid=resources] tbody tr[data-resource]")
    assert rows.count() == everything["count"]

    with page.expect_navigation():
        page.select_option("select[name=department]", "gaj")
    police = _json(service_url, "/api/resources?department=gaj")
    assert "department=gaj" in page.url and "domain=" not in page.url  # empty filters stay out of the URL
    assert 0 < rows.count() == police["count"] < everything["count"]
    assert set(page.locator("[data-testid=resources] tbody tr td:nth-child(3)").all_inner_texts()) == {"区公安分局"}

    page.fill("input[name=q]", "gmsfhm")
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    searched = _json(service_url, "/api/resources?department=gaj&q=gmsfhm")
    assert rows.count() == searched["count"] > 0
    assert "匹配信息项：gmsfhm 公民身份号码" in page.inner_text("[data-testid=resources]")

    with page.expect_navigation():
        page.select_option("select[name=status]", "aggregated")
    assert rows.count() == _json(service_url, "/api/resources?department=gaj&q=gmsfhm&status=aggregated")["count"]
    twin = page.get_attribute("link[rel=alternate]", "href")
    assert twin.startswith("/api/resources?") and "status=aggregated" in twin
    assert page.console_errors == []


def test_a_resource_page_opens_and_shows_its_evidence(page, service_url):
    aggregated = _json(service_url, "/api/resources?status=aggregated")["resources"]
    target = aggregated[0]
    page.goto(service_url + "/resources?status=aggregated")
    with page.expect_navigation():
        page.click(f"tr[data-resource='{target['id']}'] td:nth-child(2) a")
    assert page.url.endswith("/resources/" + quote(target["id"]))
    assert page.inner_text("h1") == target["name"]
    detail = _json(service_url, "/api/resources/" + target["id"])
    evidence = page.locator("[data-testid=evidence] tbody tr")
    assert evidence.count() == len(detail["timeline"])
    kinds = {cls.split("ev-")[1] for cls in evidence.evaluate_all("rows => rows.map(r => r.className)")}
    assert kinds == {"connector", "landing", "quality", "status"}
    landing = detail["evidence"]["landings"][0]
    text = page.inner_text("[data-testid=evidence]")
    assert f"{landing['rows']} 行" in text and landing["load_id"] in text and landing["files"][0] in text
    assert page.locator("[data-testid=lineage] li").count() == 6
    assert "新鲜" in page.inner_text("[data-testid=freshness]")
    assert page.console_errors == []
