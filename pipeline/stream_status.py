"""What a stream's status row reports besides its process: records delivered (the connector's saved
totals: counted only after Kafka confirmed them) and the consumer lag of the resource's landing group
(the raw topic's end offsets minus the offsets landing committed: records delivered, not yet landed).
"""

from __future__ import annotations

import logging

from kafka import TopicPartition
from kafka.errors import KafkaError

from connectors.base import load_state
from connectors.errors import ConnectorError
from hub.kafka_clients import make_admin, make_consumer
from hub.topics import landing_group, raw_topic

log = logging.getLogger(__name__)


def delivered_totals(resource_id: str) -> dict:
    """{records_delivered, dlq_records, last_delivered_at} from the connector's state file: counted at each
    checkpoint (after Kafka confirmed), so a lower bound — a process killed between two checkpoints
    delivered a few more that the next one may send again."""
    try:
        state = load_state(resource_id)
    except ConnectorError as exc:
        return {"records_delivered": None, "dlq_records": None, "last_delivered_at": None, "state_error": str(exc)}
    totals = state.get("totals") or {}
    return {
        "records_delivered": totals.get("produced", 0),
        "dlq_records": totals.get("dlq", 0),
        # The last checkpoint: every record before it is in Kafka.
        "last_delivered_at": state.get("saved_at"),
    }


class LagReader:
    """Consumer lag of landing groups; keeps one consumer and one admin client open between reads."""

    def __init__(self) -> None:
        self._consumer = None
        self._admin = None

    def lag(self, resource_id: str) -> dict:
        """{lag, lag_by_partition, lag_error}: lag None (and the reason) when Kafka could not be asked."""
        try:
            by_partition = self._lag(raw_topic(resource_id), landing_group(resource_id))
        except Exception as exc:  # Kafka away (KafkaError, OSError) or a client surprise: lag unknown, never fatal
            if not isinstance(exc, (KafkaError, OSError)):
                log.exception("%s: could not read the landing lag", resource_id)
            self.close()  # reconnect on the next read
            return {"lag": None, "lag_by_partition": {}, "lag_error": f"{type(exc).__name__}: {exc}"}
        return {"lag": sum(by_partition.values()), "lag_by_partition": by_partition, "lag_error": None}

    def _lag(self, topic: str, group: str) -> dict[str, int]:
        if self._consumer is None:
            self._consumer = make_consumer(group_id=None)
            self._admin = make_admin()
        partitions = self._consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return {}  # the topic does not exist yet: nothing delivered
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = self._consumer.end_offsets(tps)
        committed = self._admin.group_offsets(group)  # TopicPartition → the next offset to read
        beginnings = None
        lag = {}
        for tp in tps:
            done = committed.get(TopicPartition(tp.topic, tp.partition))
            if done is not None and done >= 0:
                start = done
            else:  # landing never committed here: all that the topic still holds is waiting
                beginnings = beginnings or self._consumer.beginning_offsets(tps)
                start = beginnings[tp]
            lag[str(tp.partition)] = max(0, ends[tp] - start)
        return lag

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # closing a broken client is best effort
                    log.debug("closing a Kafka client: %s", exc)
        self._consumer = self._admin = None
