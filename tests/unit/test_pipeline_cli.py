"""pipeline/cli.py composes the `hub` command from every package, and wires the warehouse's lineage."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from catalog import lineage

COMMANDS = (
    "demo",
    "coverage",
    "report",
    "connect",
    "sql",
    "audit",
    "kafka",
    "flow",
    "catalog",
    "seed",
    "sources",
    "warehouse",
    "quality",
    "grant",
)


def _hub(*args: str) -> str:
    program = "import sys; from pipeline.cli import main; sys.argv[0] = 'hub'; main()"
    result = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_package_mounts_its_commands():
    listed = _hub("--help")
    for command in COMMANDS:
        assert f" {command} " in listed, command
    assert " quarantine " in _hub("quality", "--help")  # the warehouse's command, mounted under quality
    assert "--scale" in _hub("seed", "--help")


def test_the_service_lineage_asks_the_warehouse_once_wired(hub_env):
    from pipeline.cli import _wire_storage

    resource = SimpleNamespace(id="rk_czrk", domain="population")
    before = lineage.storage()
    try:
        _wire_storage()
        assert lineage.storage().lake_folder(resource) == f"{hub_env / 'lake' / 'population' / 'rk_czrk'}/dt=*/"
    finally:
        lineage.use_storage(before)
    assert lineage.storage().lake_folder(resource) == "<lake>/population/rk_czrk/dt=*/"
