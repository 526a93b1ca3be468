"""The catalogue service in process (TestClient on create_app) on a small catalogue with accounts,
shared by the service hardening tests and the service attack corpus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from catalog.spec import Catalogue, Department, Item, Resource, ValueRules

SERVICE_TOKEN = "service-token-0123456789abcdef"
BASE_URL = "https://data.shunde.example"
NOW = datetime.now(timezone.utc)
USERS = (
    ("root", "gaj", "admin"),
    ("wang", "gaj", "steward"),
    ("li", "scjgj", "analyst"),
    ("zhao", "scjgj", "steward"),
    ("boss", "scjgj", "leadership"),
)


def catalogue() -> Catalogue:
    """gaj provides the 有条件共享 household register (ID, name, mobile), scjgj an open company list."""
    people = [
        Item(
            name="gmsfhm",
            label="公民身份号码",
            type="C",
            length=18,
            nullable=False,
            key=True,
            pii="id_number",
            rules=ValueRules(validator="resident_id"),
        ),
        Item(name="xm", label="姓名", type="C", length=50, pii="name"),
        Item(name="lxdh", label="联系电话", type="C", length=20, pii="phone", rules=ValueRules(validator="mobile")),
        Item(name="csrq", label="出生日期", type="D"),
    ]
    companies = [
        Item(
            name="tyshxydm",
            label="统一社会信用代码",
            type="C",
            length=18,
            nullable=False,
            key=True,
            rules=ValueRules(validator="uscc"),
        ),
        Item(name="qymc", label="企业名称", type="C", length=200),
    ]
    common = dict(
        classification="基础/人口/户籍人口",
        abstract="测试资源",
        format="数据库",
        update_cycle="每日",
        open_type="不开放",
        release_date=date(2026, 1, 1),
    )
    return Catalogue(
        departments=[
            Department(id="gaj", name="佛山市顺德区公安分局", code="11440606MB2C9035XG", division="440606"),
            Department(id="scjgj", name="区市场监督管理局", code="11440606MB2C9035XG", division="440606"),
        ],
        resources=[
            Resource(
                id="hjrk_jbxx",
                code="101001/000001",
                name="户籍人口基本信息",
                provider="gaj",
                domain="population",
                sharing_type="有条件共享",
                sharing_condition="按需申请",
                items=people,
                priority=5,
                **common,
            ),
            Resource(
                id="qy_jbxx",
                code="102001/000003",
                name="企业基本信息",
                provider="scjgj",
                domain="legal_entity",
                sharing_type="无条件共享",
                items=companies,
                **common,
            ),
        ],
    )


@dataclass
class Service:
    client: object
    tokens: dict[str, str]
    url: str

    def auth(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        token = SERVICE_TOKEN if who == "service" else self.tokens.get(who, who)
        return {"Authorization": f"Bearer {token}"}


def start(monkeypatch) -> tuple[str, dict[str, str]]:
    """Settings for the service, the catalogue loaded, the accounts made; returns (db url, user → token)."""
    from catalog import accounts
    from catalog.db import session_scope
    from catalog.store import load_catalogue_into
    from hub import settings as hub_settings

    monkeypatch.setenv("HUB_API_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("HUB_PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.delenv("HUB_DEV_MODE", raising=False)
    hub_settings.reset_settings()
    url = hub_settings.get_settings().catalog_url
    tokens = {}
    with session_scope(url) as session:
        load_catalogue_into(session, catalogue(), now=NOW - timedelta(days=30))
        for user, department, role in USERS:
            account = accounts.add_account(session, user, department=department, role=role, created_by="test")
            tokens[user] = accounts.issue_token(session, account)
    return url, tokens


def entry(client, resource_id: str, **changes) -> dict:
    """The resource's entry as the write API takes it, with `changes`."""
    detail = client.get(f"/api/resources/{resource_id}").json()
    meta = detail["resource"]
    body = {
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
            "freshness_grace_hours",
            "quality_threshold",
        )
    }
    body |= {
        "id": resource_id,
        "provider": meta["department_id"],
        "status": meta["entry_status"],
        "items": [
            {key: item[key] for key in ("name", "label", "type", "length", "nullable", "key", "pii", "rules")}
            for item in detail["items"]
        ],
    }
    return body | changes


def catalogue_state(url: str) -> tuple:
    """What a refused write must leave as it was: every resource's entry hash, the targets, accounts."""
    from sqlalchemy import func, select

    from catalog.db import session_scope
    from catalog.models import Account, AppliedEvent, CoverageTargetSetting, Resource

    with session_scope(url) as session:
        return (
            sorted(
                session.execute(
                    select(
                        Resource.id,
                        Resource.spec_hash,
                        Resource.freshness_grace_hours,
                        Resource.quality_threshold,
                        Resource.priority,
                    )
                ).all()
            ),
            session.scalar(select(func.count()).select_from(CoverageTargetSetting)),
            session.scalar(select(func.count()).select_from(Account)),
            session.scalar(select(func.count()).select_from(AppliedEvent)),
        )
