"""hub.files: the one lock helper and the one atomic write every package uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.files import LockHeld, exclusive_lock, write_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "deep" / "state.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_write_atomic_with_a_writer_function(tmp_path):
    target = tmp_path / "table.bin"
    write_atomic(target, lambda temp: temp.write_bytes(b"\x00" * 3_000_000))
    assert target.stat().st_size == 3_000_000


def test_a_failing_writer_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def broken(temp):
        temp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_held_lock_is_refused_without_blocking_and_names_its_holder(tmp_path):
    lock = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from hub.files import exclusive_lock\n"
            f"with exclusive_lock({str(lock)!r}, note='4242'):\n    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as refused:
            with exclusive_lock(lock, blocking=False):
                pass
        assert refused.value.holder == "4242"
    finally:
        holder.kill()
        holder.wait()
    with exclusive_lock(lock, blocking=False):  # the OS dropped the dead holder's lock
        pass
