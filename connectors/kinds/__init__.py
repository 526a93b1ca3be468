"""The source kinds, in one explicit registry: binding.kind → the class that reads that kind."""

from __future__ import annotations

from connectors.base import BaseSource
from connectors.errors import BindingError
from connectors.kinds.file import FileSource
from connectors.kinds.http import HttpSource
from connectors.kinds.mqtt import MqttSource
from connectors.kinds.sql import SqlSource

KINDS: dict[str, type[BaseSource]] = {
    "sql": SqlSource,
    "file": FileSource,
    "http": HttpSource,
    "mqtt": MqttSource,
}


def make_source(resource) -> BaseSource:
    """The source object for a catalogue resource's binding; BindingError if it has none or a bad one."""
    binding = resource.binding
    if binding is None:
        raise BindingError(
            f"resource {resource.id!r} has no source binding; add `binding:` to its entry in "
            f"{resource.file or 'the catalogue'}:{resource.line} (kind, system, config)"
        )
    try:
        kind = KINDS[binding.kind]
    except KeyError:
        raise BindingError(
            f"resource {resource.id!r}: binding kind {binding.kind!r} is unknown; use one of {', '.join(KINDS)}"
        ) from None
    return kind(resource, binding)
