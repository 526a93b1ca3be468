"""The one clock: wall by default, pinned in-process or through HUB_CLOCK_AT for child processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from hub import clock
from hub.timezone import LOCAL_TZ


def test_wall_clock_by_default(monkeypatch):
    monkeypatch.delenv(clock.ENV_VAR, raising=False)
    before = datetime.now(timezone.utc)
    assert before - timedelta(seconds=1) <= clock.now() <= datetime.now(timezone.utc)
    assert not clock.is_pinned()


def test_frozen_block_pins_and_restores(monkeypatch):
    monkeypatch.delenv(clock.ENV_VAR, raising=False)
    moment = datetime(2026, 12, 1, 7, 0, tzinfo=LOCAL_TZ)
    with clock.frozen_at(moment) as pinned:
        assert pinned == moment and clock.now() == moment
        assert clock.now().tzinfo == timezone.utc
        assert clock.local_today().isoformat() == "2026-12-01"
    assert not clock.is_pinned()


def test_child_process_reads_the_pinned_time(monkeypatch):
    monkeypatch.delenv(clock.ENV_VAR, raising=False)
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)  # already 12-01 in Shunde
    with clock.frozen_at(moment):
        out = subprocess.run(
            [sys.executable, "-c", "from hub import clock; print(clock.now().isoformat(), clock.local_today())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    assert out == ["2026-11-30T23:30:00+00:00", "2026-12-01"]


@pytest.mark.parametrize("text", ["yesterday", "2026-12-01T07:00:00"])
def test_a_bad_pinned_time_is_a_clear_error(monkeypatch, text):
    monkeypatch.setenv(clock.ENV_VAR, text)
    with pytest.raises(clock.ClockError, match="HUB_CLOCK_AT|offset"):
        clock.now()
