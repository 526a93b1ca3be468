"""The Data Docs sample of a large batch (warehouse.gate_docs): whole groups, about 1 in `every`."""

from __future__ import annotations

import pyarrow as pa

from warehouse.gate_docs import _bucket


def test_a_sample_keeps_each_group_whole_and_about_one_in_every():
    meters = [f"M{n % 3000:05d}" for n in range(30_000)]  # ten readings per meter
    table = pa.table({"meter_id": meters, "reading": list(range(30_000))})
    sample = _bucket(table, "meter_id", 6)
    kept = sample.column("meter_id").to_pylist()
    assert all(kept.count(meter) == 10 for meter in set(kept[:50]))  # a meter is in whole or not at all
    assert 3_500 < len(kept) < 6_500  # ≈ 30,000 / 6
    assert _bucket(table, "meter_id", 6).equals(sample)  # the same rows every time
    assert _bucket(table, "meter_id", 1) is table
