"""The coverage target in force: the newest one set through the API, else the settings' one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import CoverageTargetSetting
from hub.settings import get_settings

SETTINGS, CATALOGUE = "settings", "catalogue"


@dataclass(frozen=True)
class Target:
    target: float
    target_date: date
    source: str  # settings (HUB_COVERAGE_TARGET / HUB_TARGET_DATE) or catalogue (set through the API)
    set_at: datetime | None = None
    note: str | None = None

    def as_json(self) -> dict:
        return {
            "target": self.target,
            "target_date": self.target_date.isoformat(),
            "source": self.source,
            "set_at": self.set_at.isoformat() if self.set_at else None,
            "note": self.note,
        }


def current_target(session: Session) -> Target:
    """The newest target stored in the catalogue, else the configured one."""
    row = session.scalars(select(CoverageTargetSetting).order_by(CoverageTargetSetting.id.desc()).limit(1)).first()
    if row is not None:
        return Target(row.target, row.target_date, CATALOGUE, row.set_at, row.note)
    settings = get_settings()
    return Target(settings.coverage_target, settings.target_date, SETTINGS)


def set_target(session: Session, target: float, target_date: date, *, now: datetime, note: str | None = None) -> Target:
    """Store a new target (a new row: earlier ones stay as history) and return it."""
    row = CoverageTargetSetting(target=target, target_date=target_date, set_at=now, note=note)
    session.add(row)
    session.flush()
    return Target(row.target, row.target_date, CATALOGUE, row.set_at, row.note)
