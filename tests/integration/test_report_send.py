"""`hub report send`: the report mailed to the configured list through a real SMTP server (aiosmtpd), the PDF
and the gap workbook attached; and coverage_daily's report step mails it when HUB_REPORT_TO is set."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import typer
from mail_kit import smtp_server  # noqa: F401 (fixture)
from test_report import _cjk_font_missing
from typer.testing import CliRunner

from hub import settings as hub_settings

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium missing: scripts/system-deps.sh browser"),
    pytest.mark.skipif(_cjk_font_missing(), reason="fonts-noto-cjk missing: scripts/system-deps.sh report"),
]


@pytest.fixture
def loaded(hub_env, monkeypatch, small_catalogue, evidence_events, t0):
    from catalog.db import session_scope
    from catalog.events import apply_events
    from catalog.store import load_catalogue_into

    monkeypatch.setenv("HUB_TARGET_DATE", "2026-12-31")
    monkeypatch.setenv("HUB_CLOCK_AT", (t0 + timedelta(hours=1)).isoformat())
    hub_settings.reset_settings()
    with session_scope() as session:
        load_catalogue_into(session, small_catalogue, now=t0 - timedelta(days=60))
        apply_events(session, evidence_events)


def _hub(*args: str):
    from catalog.service_cli import register

    app, catalog_app = typer.Typer(), typer.Typer()
    app.add_typer(catalog_app, name="catalog")
    register(app, catalog_app)
    return CliRunner().invoke(app, list(args))


def test_hub_report_send_mails_the_pdf_and_the_workbook(loaded, smtp_server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HUB_REPORT_TO", "leader@shunde.example,office@shunde.example")
    hub_settings.reset_settings()
    result = _hub("report", "send")
    assert result.exit_code == 0, result.output
    recipients, message = smtp_server.wait_for(1)[0]
    assert sorted(recipients) == ["leader@shunde.example", "office@shunde.example"]
    assert message["Subject"].startswith("顺德区数据资源汇聚覆盖率报告") and "（覆盖率 " in message["Subject"]
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {"report.pdf", "gaps.xlsx"}
    assert attachments["report.pdf"][:5] == b"%PDF-" and attachments["gaps.xlsx"][:2] == b"PK"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "北京时间" in body and "距目标还差" in body and "达标路径" in body


def test_the_to_option_overrides_the_list_and_a_rendered_folder_is_sent_as_is(loaded, smtp_server, tmp_path):  # noqa: F811
    from catalog.report.render import render_report

    folder = render_report(tmp_path / "r").folder
    result = _hub("report", "send", "--folder", str(folder), "--to", "someone@shunde.example")
    assert result.exit_code == 0, result.output
    assert smtp_server.wait_for(1)[0][0] == ["someone@shunde.example"]


def test_without_a_mail_server_it_fails_and_says_what_to_set(loaded, monkeypatch, tmp_path):
    monkeypatch.delenv("HUB_SMTP_HOST", raising=False)
    hub_settings.reset_settings()
    result = _hub("report", "send", "--to", "x@shunde.example")
    assert result.exit_code == 1 and "HUB_SMTP_HOST" in result.output


def test_the_daily_report_step_mails_the_configured_list(loaded, smtp_server, monkeypatch):  # noqa: F811
    from pipeline import flow

    monkeypatch.setenv("HUB_REPORT_TO", "leader@shunde.example")
    hub_settings.reset_settings()
    result = flow.render_report()
    assert result["sent_to"] == ["leader@shunde.example"]
    assert len(smtp_server.wait_for(1)) == 1
