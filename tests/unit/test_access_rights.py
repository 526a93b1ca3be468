"""The rights model: who reads which resource, masked or not (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from warehouse.access.rights import decide, decide_all, resolve_role

NOW = datetime(2026, 11, 24, 8, tzinfo=timezone.utc)


@dataclass
class Item:
    name: str
    pii: str = "none"


@dataclass
class Resource:
    id: str
    provider_id: str
    sharing_type: str
    items: list = field(default_factory=lambda: [Item("gmsfhm", "id_number"), Item("xm", "name"), Item("nl")])


@dataclass
class Grant:
    id: int
    department_id: str
    resource_id: str
    include_pii: bool
    valid_until: datetime
    revoked_at: datetime | None = None


PII = {"gmsfhm": "id_number", "xm": "name"}
OPEN, COND, SECRET = (
    Resource("r_open", "gaj", "无条件共享"),
    Resource("r_cond", "gaj", "有条件共享"),
    Resource("r_secret", "gaj", "不予共享"),
)


@pytest.mark.parametrize("resource", [OPEN, COND, SECRET])
def test_the_owner_reads_its_resources_in_clear(resource):
    decision = decide("gaj", resource, [], NOW)
    assert decision.readable and decision.masked == {}


def test_unconditional_resources_are_readable_by_all_with_pii_masked():
    for role in ("scjgj", "leadership", "admin"):
        decision = decide(role, OPEN, [], NOW)
        assert decision.readable and decision.masked == PII


@pytest.mark.parametrize(
    ("grants", "readable", "masked"),
    [
        ([], False, {}),
        ([Grant(1, "scjgj", "r_cond", False, NOW + timedelta(days=1))], True, PII),
        ([Grant(1, "scjgj", "r_cond", True, NOW + timedelta(days=1))], True, {}),
        ([Grant(1, "scjgj", "r_cond", True, NOW - timedelta(seconds=1))], False, {}),
        ([Grant(1, "scjgj", "r_cond", True, NOW + timedelta(days=1), revoked_at=NOW)], False, {}),
        ([Grant(1, "zsj", "r_cond", True, NOW + timedelta(days=1))], False, {}),  # someone else's grant
        ([Grant(1, "scjgj", "r_open", True, NOW + timedelta(days=1))], False, {}),  # another resource
        (
            [
                Grant(1, "scjgj", "r_cond", False, NOW + timedelta(days=1)),
                Grant(2, "scjgj", "r_cond", True, NOW + timedelta(days=1)),
            ],
            True,
            {},
        ),  # the PII grant wins
    ],
)
def test_conditional_resources_need_a_valid_grant(grants, readable, masked):
    decision = decide("scjgj", COND, grants, NOW)
    assert (decision.readable, decision.masked) == (readable, masked)
    assert decision.reason


def test_expired_and_missing_grants_say_so():
    assert "no grant" in decide("scjgj", COND, [], NOW).reason
    expired = [Grant(1, "scjgj", "r_cond", False, NOW - timedelta(days=1))]
    assert "expired" in decide("scjgj", COND, expired, NOW).reason


def test_not_shared_resources_are_for_the_owner_only_even_with_a_grant():
    grants = [Grant(1, "scjgj", "r_secret", True, NOW + timedelta(days=1))]
    assert not decide("scjgj", SECRET, grants, NOW).readable
    assert not decide("leadership", SECRET, [], NOW).readable


def test_admin_reads_everything_masked_and_leadership_only_unconditional():
    assert all(d.readable and d.masked == PII for d in decide_all("admin", [OPEN, COND, SECRET], [], NOW).values())
    leadership = decide_all("leadership", [OPEN, COND, SECRET], [], NOW)
    assert [leadership[r].readable for r in ("r_open", "r_cond", "r_secret")] == [True, False, False]


def test_roles_resolve_from_ids_display_names_and_special_names():
    departments = {"gaj": "区公安分局", "scjgj": "区市场监督管理局"}
    assert resolve_role("区公安分局", departments) == "gaj"
    assert resolve_role("scjgj", departments) == "scjgj"
    assert resolve_role("Admin", departments) == "admin"
    assert resolve_role("leadership", departments) == "leadership"
    assert resolve_role("财政局", departments) is None
