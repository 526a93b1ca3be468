"""Who may read what, masked or not — pure: catalogue rows and grants in, a decision per resource out.

Roles are the catalogue's departments plus two: `admin` (every resource, PII masked: an admin runs
the platform, they own no data) and `leadership` (marts, which aggregate, and 无条件共享 resources,
masked). A department reads:
- its own resources, unmasked;
- 无条件共享 resources of others, PII masked;
- 有条件共享 resources of others only with a grant valid now (not revoked, valid_until in the
  future), masked unless the grant includes PII;
- never 不予共享 resources of others.
Marts carry no PII and every role reads them, without groups smaller than k (warehouse.access.sandbox).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from warehouse.access.masking import masked_columns

ADMIN, LEADERSHIP = "admin", "leadership"
SPECIAL_ROLES = (ADMIN, LEADERSHIP)
UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "无条件共享", "有条件共享", "不予共享"


class GrantLike(Protocol):
    id: int
    department_id: str
    resource_id: str
    include_pii: bool
    valid_until: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Decision:
    """The role's access to one resource: readable or not, which columns are masked, and why."""

    resource_id: str
    readable: bool
    masked: dict[str, str]  # column → PII kind, masked in the role's view
    reason: str
    grant_id: int | None = None


def decide(
    role: str, resource, grants: Iterable[GrantLike], now: datetime, names: Mapping[str, str] | None = None
) -> Decision:
    """The access of `role` (a department id, admin or leadership) to one catalogue resource.

    `names` (department id → display name) only makes the reasons read better.
    """
    pii = masked_columns(resource)  # PII items, identifiers by validator, and what derives from them
    sharing = resource.sharing_type
    owner = (names or {}).get(resource.provider_id, resource.provider_id)
    if role == resource.provider_id:
        return Decision(resource.id, True, {}, "own resource")
    if role == ADMIN:
        return Decision(resource.id, True, pii, "admin reads every resource, PII masked")
    if sharing == UNCONDITIONAL:
        return Decision(resource.id, True, pii, f"{UNCONDITIONAL}: readable by every department, PII masked")
    if role == LEADERSHIP:
        return Decision(resource.id, False, {}, f"{sharing}: leadership reads marts and {UNCONDITIONAL} resources")
    if sharing == CONDITIONAL:
        return _by_grant(role, resource, owner, pii, grants, now)
    return Decision(resource.id, False, {}, f"{sharing}: only the owner department {owner} reads it")


def _by_grant(
    role: str, resource, owner: str, pii: dict[str, str], grants: Iterable[GrantLike], now: datetime
) -> Decision:
    mine = [g for g in grants if g.department_id == role and g.resource_id == resource.id and g.revoked_at is None]
    valid = [g for g in mine if g.valid_until > now]
    if not valid:
        why = "its grant expired" if mine else "no grant"
        return Decision(
            resource.id,
            False,
            {},
            f"{CONDITIONAL} and {why}: the owner {owner} approves a grant, recorded with `hub grant add`",
        )
    with_pii = [g for g in valid if g.include_pii]
    if with_pii:
        return Decision(resource.id, True, {}, f"grant #{with_pii[0].id} (with PII)", with_pii[0].id)
    return Decision(resource.id, True, pii, f"grant #{valid[0].id} (PII masked)", valid[0].id)


def decide_all(
    role: str, resources: Iterable, grants: Iterable[GrantLike], now: datetime, names: Mapping[str, str] | None = None
) -> dict[str, Decision]:
    """resource id → Decision for every catalogue resource."""
    grants = list(grants)
    return {r.id: decide(role, r, grants, now, names) for r in resources}


def resolve_role(name: str, departments: Mapping[str, str]) -> str | None:
    """A role id from what the analyst typed: admin, leadership, a department id or its display name."""
    wanted = name.strip()
    if wanted.lower() in SPECIAL_ROLES:
        return wanted.lower()
    if wanted in departments:
        return wanted
    return next((dep_id for dep_id, shown in departments.items() if shown == wanted), None)
