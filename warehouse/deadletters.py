"""Dead letters of landing: records it cannot land, sent to hub.dlq.<resource> with the reason.

The value is JSON in the connectors' DLQ shape (stage "landing") plus where the record sits in the
raw topic, so a fixed record can be found and replayed; the raw topic keeps every record whole.
"""

from __future__ import annotations

import base64

import orjson

from hub import clock
from hub.kafka_clients import ensure_topics, shared_producer
from warehouse.errors import WarehouseError

MAX_DLQ_RAW = 256 << 10  # what a dead letter keeps of a value; the whole record stays in the raw topic
MAX_REASON_HEADER = 512


class DeadLetters:
    """Sends rejected records to hub.dlq.<resource>; the producer is made for the first one."""

    def __init__(self, resource_id: str, source_topic: str, topic: str) -> None:
        self.resource_id, self.source_topic, self.topic = resource_id, source_topic, topic
        self.producer = None
        self.futures: list = []

    def send(self, key, value, reason: str, partition: int, offset: int, source) -> None:
        if self.producer is None:
            ensure_topics([self.topic])
            self.producer = shared_producer()
        dlq_key, dlq_value, headers = dead_letter_message(
            self.resource_id, self.source_topic, partition, offset, key, value, reason, source
        )
        self.futures.append(self.producer.send(self.topic, key=dlq_key, value=dlq_value, headers=headers))

    def flush(self) -> None:
        """Wait until every dead letter is stored; raises (retriable) if one was not."""
        if self.producer is None:
            return
        self.producer.flush()
        failed = [f for f in self.futures if f.failed()]
        self.futures = []
        if failed:
            raise WarehouseError(
                f"{len(failed)} record(s) could not be written to {self.topic}: "
                f"{failed[0].exception}; the load is not committed and will be retried",
                kind="retriable",
            )

    def close(self) -> None:
        """Wait for what was sent (the process's producer stays open for its next sender)."""
        if self.producer is not None:
            self.producer.flush()
            self.producer = None


def dead_letter_message(
    resource_id: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    source: bytes | None,
) -> tuple[bytes | None, bytes, list]:
    """(key, value, headers) of the DLQ message for a record landing rejected.

    The value is JSON in the connectors' DLQ shape (stage "landing") plus where the record sits
    in the raw topic; a value over MAX_DLQ_RAW is cut (`truncated`), the raw topic keeps it whole.
    """
    raw = b"" if value is None else bytes(value)
    kept = raw[:MAX_DLQ_RAW]
    text, encoding = _as_text(kept, cut=len(raw) > len(kept))
    source_text = source.decode("utf-8", "replace") if isinstance(source, (bytes, bytearray)) else ""
    body = orjson.dumps(
        {
            "resource": resource_id,
            "source": source_text,
            "stage": "landing",
            "reason": reason,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "raw": text,
            "raw_encoding": encoding,
            "raw_bytes": len(raw),
            "truncated": len(raw) > len(kept),
            "at": clock.now().isoformat(),
        }
    )
    headers = [
        ("hub-dlq-reason", reason.encode()[:MAX_REASON_HEADER]),
        ("hub-dlq-stage", b"landing"),
        ("hub-resource", resource_id.encode()),
        ("hub-source", source_text.encode()),
        ("hub-dlq-encoding", encoding.encode()),
        ("hub-dlq-origin", f"{topic}/{partition}/{offset}".encode()),
    ]
    return key, body, headers


def _as_text(data: bytes, *, cut: bool) -> tuple[str, str]:
    """(text, "utf-8") when the bytes are UTF-8 (a cut may split the last character), else base64."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3:
            return data[: exc.start].decode("utf-8", "replace"), "utf-8"
        return base64.b64encode(data).decode(), "base64"
