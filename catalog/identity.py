"""Who is asking: the Identity every entry point resolves (catalog.accounts does the resolving) and
the identity acting in this context, which the query audit records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

ANALYST, STEWARD, ADMIN, LEADERSHIP = "analyst", "steward", "admin", "leadership"
ROLES = (ANALYST, STEWARD, ADMIN, LEADERSHIP)


@dataclass(frozen=True)
class Identity:
    """An account (or the service token): its user name, department and role."""

    user: str
    department: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def sql_role(self) -> str | None:
        """The role `hub sql` reads as: admin and leadership have their own, everyone else their department."""
        return self.role if self.role in (ADMIN, LEADERSHIP) else self.department


_acting: ContextVar[Identity | None] = ContextVar("hub_acting_identity", default=None)


@contextmanager
def acting_as(identity: Identity) -> Iterator[Identity]:
    """Within the block, audit rows name `identity` (catalog.grants.record_query reads it)."""
    marker = _acting.set(identity)
    try:
        yield identity
    finally:
        _acting.reset(marker)


def acting_identity() -> Identity | None:
    return _acting.get()


def set_acting_identity(identity: Identity) -> None:
    """For the rest of this context (a CLI process: its whole run), audit rows name `identity`."""
    _acting.set(identity)
