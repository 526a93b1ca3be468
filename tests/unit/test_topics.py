import pytest

from hub.topics import EVENTS_TOPIC, dlq_topic, raw_topic, resource_of


def test_names():
    assert raw_topic("rk_czrk") == "hub.raw.rk_czrk"
    assert dlq_topic("rk_czrk") == "hub.dlq.rk_czrk"
    assert EVENTS_TOPIC == "hub.events"


@pytest.mark.parametrize("topic", ["hub.raw.rk_czrk", "hub.dlq.rk_czrk"])
def test_resource_of_inverts_the_names(topic):
    assert resource_of(topic) == "rk_czrk"


@pytest.mark.parametrize("bad", ["", "RK", "1abc", "rk czrk", "人口", "a/b", "x" * 90, None])
def test_bad_resource_ids_are_refused_with_the_rule(bad):
    with pytest.raises(ValueError, match="lowercase ASCII"):
        raw_topic(bad)


@pytest.mark.parametrize("topic", ["hub.events", "other.raw.x", "hub.raw"])
def test_resource_of_refuses_other_topics(topic):
    with pytest.raises(ValueError):
        resource_of(topic)


def test_the_events_have_their_own_dead_letter_topic_no_resource_can_take():
    from hub.topics import EVENTS_DLQ_TOPIC

    assert EVENTS_DLQ_TOPIC == "hub.dlq.events"
    with pytest.raises(ValueError, match="reserved"):
        dlq_topic("events")
    with pytest.raises(ValueError, match="reserved"):
        resource_of(EVENTS_DLQ_TOPIC)
