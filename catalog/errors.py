"""Errors of the catalogue package; every message names the file (and line) to fix."""

from __future__ import annotations

from hub.errors import HubError


class CatalogError(HubError):
    """Base error of the catalogue package."""


class SeedError(CatalogError):
    """The seed catalogue cannot be read: unparsable YAML or a field of the wrong shape.

    The message lists every problem as `file:line: message`; fix the seed file and reload.
    """
