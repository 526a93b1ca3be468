"""Where a resource's rows are kept after the catalogue: the lake folder and the mart views reading it.

The catalogue sits below the warehouse (pyproject's import contract), so it cannot ask the warehouse
itself: the composition (pipeline/cli.py) hands the warehouse's answers in with `use_storage`.
Without them the service shows the lake's folder pattern and no marts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Resource = Any  # a catalog.models.Resource; not imported, so `hub` starts without SQLAlchemy


@dataclass(frozen=True)
class Storage:
    lake_folder: Callable[[Resource], str]  # e.g. "var/lake/population/rk_czrk/dt=*/"
    marts_reading: Callable[[Resource], list[str]]  # e.g. ["mart.population_by_town"]


def _pattern(resource: Resource) -> str:
    return f"<lake>/{resource.domain}/{resource.id}/dt=*/"


_storage = Storage(lake_folder=_pattern, marts_reading=lambda resource: [])


def use_storage(storage: Storage) -> None:
    """Answer lineage questions with the storage layer's own functions (called once at start-up)."""
    global _storage
    _storage = storage


def storage() -> Storage:
    return _storage
