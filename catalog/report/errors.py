"""Errors of the leadership report; each says what to install or run."""

from __future__ import annotations

from catalog.errors import CatalogError


class ReportError(CatalogError):
    """The report cannot be rendered (a missing font or browser, a failed print)."""
