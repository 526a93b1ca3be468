"""Every defect the synthetic sources injected (var/sources/manifest.json) is caught by a rule,
repaired by a normaliser or sent to a DLQ on its way through the demo's ingest DAGs — and no clean
record is flagged (quality.recall, read from the demo run's lake, catalogue and manifest)."""

from __future__ import annotations

import pytest

from hub import settings as hub_settings
from quality.recall import CAUGHT_BY, REPAIRED_AT_LANDING, SENT_TO_DLQ, measure


@pytest.fixture(scope="module")
def recall(demo):
    _, home, _ = demo
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUB_VAR_DIR", str(home))
        patch.delenv("HUB_CATALOG_URL", raising=False)
        hub_settings.reset_settings()
        try:
            yield measure()
        finally:
            hub_settings.reset_settings()


def test_every_injected_defect_kind_was_injected(recall):
    assert {defect for defect, count in recall.injected.items() if count} == set(CAUGHT_BY) | set(
        REPAIRED_AT_LANDING
    ) | set(SENT_TO_DLQ)


def test_every_injected_defect_is_caught_repaired_or_dead_lettered(recall):
    assert not recall.missed, {defect: (len(misses), misses[:5]) for defect, misses in recall.missed.items()}
    assert recall.caught == recall.injected


def test_no_clean_record_is_flagged(recall):
    assert recall.false_positives == [], (len(recall.false_positives), recall.false_positives[:10])
