"""Signing in in real Chromium: the Data Docs ask for an identity, the login form takes a token and
the HttpOnly session cookie opens the docs (script cannot read it); no console errors under the CSP."""

from __future__ import annotations


def test_sign_in_with_a_token_opens_the_data_docs(page, service_url):
    from catalog import accounts
    from catalog.db import session_scope
    from hub.settings import get_settings

    docs = get_settings().var_dir / "quality" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    stand_in = '<html><head><link rel="icon" href="data:,"></head><body><h1>Data Docs index</h1></body></html>'
    (docs / "index.html").write_text(stand_in, encoding="utf-8")  # names its icon, as Data Docs pages do
    with session_scope() as session:
        account = accounts.add_account(session, "browser.admin", department="zsj", role="admin", created_by="test")
        token = accounts.issue_token(session, account)

    page.goto(service_url + "/quality/docs/index.html")  # not signed in: sent to the form
    assert "/login?next=" in page.url
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("[data-testid=login] button[type=submit]")
    assert page.url.endswith("/quality/docs/index.html")
    assert page.inner_text("h1") == "Data Docs index"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads the session
    page.goto(service_url + "/")
    assert page.console_errors == []
