import pytest

from hub import topics
from hub.errors import ConfigError
from hub.settings import get_settings, reset_settings
from hub.topics import catalog_group, dlq_topic, events_topic, landing_group, raw_topic, resource_of

# Every name the hub derives, one entry per kind: a new kind of name belongs here too.
DERIVED = {
    "raw topic": lambda: raw_topic("rk_czrk"),
    "dlq topic": lambda: dlq_topic("rk_czrk"),
    "events topic": events_topic,
    "landing group": lambda: landing_group("rk_czrk"),
    "catalogue group": catalog_group,
}


@pytest.fixture
def unprefixed(monkeypatch):
    monkeypatch.setenv("HUB_TOPIC_PREFIX", "")
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def prefixed(monkeypatch):
    monkeypatch.setenv("HUB_TOPIC_PREFIX", "t1a2b3c4.")
    reset_settings()
    yield "t1a2b3c4."
    reset_settings()


def test_names_without_a_prefix(unprefixed):
    assert {kind: make() for kind, make in DERIVED.items()} == {
        "raw topic": "hub.raw.rk_czrk",
        "dlq topic": "hub.dlq.rk_czrk",
        "events topic": "hub.events",
        "landing group": "hub.landing.rk_czrk",
        "catalogue group": "hub-catalog",
    }


@pytest.mark.parametrize("kind", sorted(DERIVED))
def test_every_derived_name_carries_the_prefix(prefixed, kind):
    name = DERIVED[kind]()
    assert name.startswith(prefixed)
    assert len(name) > len(prefixed)


def test_derived_names_come_from_the_catalogue_entry_with_the_prefix(prefixed):
    from types import SimpleNamespace

    from catalog import derive

    assert derive.topics(SimpleNamespace(id="rk_czrk")) == (f"{prefixed}hub.raw.rk_czrk", f"{prefixed}hub.dlq.rk_czrk")


def test_the_session_runs_under_its_own_prefix():
    # tests/conftest.py sets it before anything reads settings: no test talks to a demo's topics.
    assert get_settings().topic_prefix.startswith("t") and get_settings().topic_prefix.endswith(".")
    assert events_topic() != topics.EVENTS


@pytest.mark.parametrize("bad", ["Hub.", "t-1.", ".t1", "t 1", "x" * 41, "测试."])
def test_a_prefix_that_cannot_name_a_topic_is_refused(monkeypatch, bad):
    monkeypatch.setenv("HUB_TOPIC_PREFIX", bad)
    reset_settings()
    try:
        with pytest.raises(ConfigError, match="HUB_TOPIC_PREFIX"):
            get_settings()
    finally:
        monkeypatch.undo()
        reset_settings()


@pytest.mark.parametrize("topic", ["hub.raw.rk_czrk", "hub.dlq.rk_czrk"])
def test_resource_of_inverts_the_names(unprefixed, topic):
    assert resource_of(topic) == "rk_czrk"


def test_resource_of_inverts_prefixed_names(prefixed):
    assert resource_of(raw_topic("rk_czrk")) == "rk_czrk"
    with pytest.raises(ValueError, match="prefix"):
        resource_of("hub.raw.rk_czrk")


@pytest.mark.parametrize("bad", ["", "RK", "1abc", "rk czrk", "人口", "a/b", "x" * 90, None])
def test_bad_resource_ids_are_refused_with_the_rule(bad):
    with pytest.raises(ValueError, match="lowercase ASCII"):
        raw_topic(bad)


@pytest.mark.parametrize("topic", ["hub.events", "other.raw.x", "hub.raw"])
def test_resource_of_refuses_other_topics(unprefixed, topic):
    with pytest.raises(ValueError):
        resource_of(topic)


def test_the_events_have_their_own_dead_letter_topic_no_resource_can_take():
    from hub.topics import events_dlq_topic, prefix

    assert events_dlq_topic() == f"{prefix()}hub.dlq.events"
    with pytest.raises(ValueError, match="reserved"):
        dlq_topic("events")
    with pytest.raises(ValueError, match="reserved"):
        resource_of(events_dlq_topic())
