"""Landing's header path on its own, as its writer runs it per poll: the poll's header lists split
into the five hub header columns (`HeaderColumns.extend`) and those decoded into Arrow columns
(`HeaderColumns.decode` through `warehouse.decode.envelope_columns`).

No broker: the records are built in memory with hub.envelope.encode, as kafka-python hands them
over (one list of (name, bytes) per record, 20 000 records per poll). Prints CPU milliseconds per
100 000 records, best of --repeat runs.

    .venv/bin/python bench/headers.py [--records 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.envelope import HeaderColumns, Record, encode  # noqa: E402
from warehouse import decode  # noqa: E402

ConsumerRecord = namedtuple("ConsumerRecord", "offset key value headers")  # the fields landing reads
POLL = 20_000


def records(count: int) -> list[ConsumerRecord]:
    moment = datetime(2026, 11, 23, tzinfo=timezone.utc)
    made = []
    for n in range(count):
        key, value, headers = encode(
            Record(
                key=f"44060619900101{n:04d}".encode(),
                value={"n": n},
                resource="household_population",
                event_time=moment,
                source="population_db",
                schema="ae53f4a1a2ff50d8",
            )
        )
        made.append(ConsumerRecord(n, key, value, headers))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    made = records(args.records)
    polls = [
        ([r.headers for r in made[i : i + POLL]], [r.offset for r in made[i : i + POLL]])
        for i in range(0, len(made), POLL)
    ]
    take_best = decode_best = float("inf")
    for _ in range(args.repeat):
        take = decoding = 0.0
        for poll_headers, poll_offsets in polls:
            started = time.process_time()
            headers = HeaderColumns()
            headers.extend(poll_headers)
            taken = time.process_time()
            columns, rejects = decode.envelope_columns(headers.decode(), 0, poll_offsets)
            decoding += time.process_time() - taken
            take += taken - started
            assert not rejects and len(columns["_op"]) == len(poll_offsets)
        take_best, decode_best = min(take_best, take), min(decode_best, decoding)
    per = 100_000 / args.records * 1000
    print(
        f"{args.records:,} records: split {take_best * per:.1f} ms, header columns {decode_best * per:.1f} ms "
        f"per 100k records (CPU, best of {args.repeat}); "
        f"{args.records / (take_best + decode_best):,.0f} records/s through the header path"
    )


if __name__ == "__main__":
    main()
