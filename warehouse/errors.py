"""Errors of the warehouse package; every message names the resource, topic or file and the fix."""

from __future__ import annotations

from hub.errors import HubError


class WarehouseError(HubError):
    """Base error of the warehouse package (landing, lake, DuckDB store, marts)."""


class LandingBusy(WarehouseError):
    """Another landing of the same resource holds its lock; try again when it has finished."""

    kind = "retriable"


class UnknownResource(WarehouseError):
    """The resource id is not in the catalogue that landing was given."""
