"""Kafka topic and consumer-group names: one raw and one dead-letter topic per catalogue resource,
one event topic and its dead-letter topic, one landing group per resource, one catalogue group.

Every name the hub derives comes from here and carries the `HUB_TOPIC_PREFIX` setting (default
empty), so a test run or a second hub on a shared cluster (`t1a2b3c4.hub.events`) never reads or
writes the topics and offsets of another one.
"""

from __future__ import annotations

import re

from hub.settings import get_settings

_RESOURCE_ID = re.compile(r"^[a-z][a-z0-9_]{1,80}$")
EVENTS = "hub.events"
_EVENTS = EVENTS.removeprefix("hub.")  # a resource of this id would take the events' DLQ name
CATALOG_GROUP = "hub-catalog"


def prefix() -> str:
    """The prefix in force (validated by the settings)."""
    return get_settings().topic_prefix


def _checked(resource_id: str) -> str:
    if not _RESOURCE_ID.match(resource_id or ""):
        raise ValueError(
            f"resource id {resource_id!r} cannot name a topic: use lowercase ASCII letters, digits and '_'"
        )
    if resource_id == _EVENTS:  # hub.dlq.events is the events' dead-letter topic
        raise ValueError(f"resource id {resource_id!r} is reserved: its DLQ would be {events_dlq_topic()}")
    return resource_id


def raw_topic(resource_id: str) -> str:
    return f"{prefix()}hub.raw.{_checked(resource_id)}"


def dlq_topic(resource_id: str) -> str:
    return f"{prefix()}hub.dlq.{_checked(resource_id)}"


def events_topic() -> str:
    """The catalogue events topic (hub.events)."""
    return f"{prefix()}{EVENTS}"


def events_dlq_topic() -> str:
    """Catalogue events that are unknown or malformed, with the reason (hub.dlq.events)."""
    return f"{prefix()}hub.dlq.{_EVENTS}"


def landing_group(resource_id: str) -> str:
    """One group per resource: each resource's landing keeps its own committed offsets."""
    return f"{prefix()}hub.landing.{_checked(resource_id)}"


def catalog_group() -> str:
    """The group whose offsets say which catalogue events the catalogue database has applied."""
    return f"{prefix()}{CATALOG_GROUP}"


def resource_of(topic: str) -> str:
    """The resource id a raw or DLQ topic (under the prefix in force) belongs to."""
    own = prefix()
    if not topic.startswith(own):
        raise ValueError(f"{topic!r} does not carry this hub's topic prefix {own!r} (HUB_TOPIC_PREFIX)")
    hub, _, rest = topic[len(own) :].partition(".")
    kind, _, resource_id = rest.partition(".")
    if hub != "hub" or kind not in ("raw", "dlq"):
        raise ValueError(f"{topic!r} is not a {own}hub.raw.* or {own}hub.dlq.* topic")
    return _checked(resource_id)
