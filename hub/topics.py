"""Kafka topic names: one raw and one dead-letter topic per catalogue resource, one event topic and
its dead-letter topic."""
from __future__ import annotations

import re

EVENTS_TOPIC = "hub.events"
_EVENTS = EVENTS_TOPIC.removeprefix("hub.")
EVENTS_DLQ_TOPIC = f"hub.dlq.{_EVENTS}"  # catalogue events that are unknown or malformed, with the reason
_RESOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{1,80}$")


def _checked(resource_id: str) -> str:
    if not _RESOURCE_ID.match(resource_id or ""):
        raise ValueError(
            f"resource id {resource_id!r} cannot name a topic: use lowercase ASCII letters, digits and '_'"
        )
    if resource_id == _EVENTS:  # hub.dlq.events is the events' dead-letter topic
        raise ValueError(f"resource id {resource_id!r} is reserved: its DLQ would be {EVENTS_DLQ_TOPIC}")
    return resource_id


def raw_topic(resource_id: str) -> str:
    return f"hub.raw.{_checked(resource_id)}"


def dlq_topic(resource_id: str) -> str:
    return f"hub.dlq.{_checked(resource_id)}"


def resource_of(topic: str) -> str:
    """The resource id a raw or DLQ topic belongs to."""
    prefix, _, rest = topic.partition(".")
    kind, _, resource_id = rest.partition(".")
    if prefix != "hub" or kind not in ("raw", "dlq"):
        raise ValueError(f"{topic!r} is not a hub.raw.* or hub.dlq.* topic")
    return _checked(resource_id)
