"""Errors of the connectors: every message names the resource, the source object and the fix.

`kind` tells the runner what to do: "fatal" (stop; the binding or the source is wrong),
"retriable" (stop now, state is safe; a later run picks up where this one stopped) or
"skippable" (this one row cannot be read; it goes to the DLQ and the run goes on).
"""

from __future__ import annotations

from hub.errors import HubError


class ConnectorError(HubError):
    """Base error of the connectors package."""


class BindingError(ConnectorError):
    """A catalogue binding the connectors cannot act on (unknown kind, missing config, no such table)."""

    kind = "fatal"


class SourceUnavailable(ConnectorError):
    """The source system did not answer (down, rate-limited past the deadline, network)."""

    kind = "retriable"


class SourceRejected(ConnectorError):
    """The source system refused the request for good (HTTP 4xx other than 429): fix the binding."""

    kind = "fatal"


class DeliveryFailed(ConnectorError):
    """Kafka did not confirm delivery; the state was not saved, so a rerun re-reads from the last save."""

    kind = "retriable"


class UnreadableRow(ConnectorError):
    """One row cannot be turned into a record; the runner sends it to the DLQ with this reason."""

    kind = "skippable"
