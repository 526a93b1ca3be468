"""Errors of the quality package."""

from __future__ import annotations

from hub.errors import HubError


class QualityError(HubError):
    """A quality rule or repair was called wrongly (bad argument, unsorted input, unknown name).

    Bad *data* never raises: rules return False for it. This is raised for caller mistakes, and the
    message says what to change.
    """
