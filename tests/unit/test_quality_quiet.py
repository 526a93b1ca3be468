"""A quality task's log holds what the gate says, not Great Expectations' bookkeeping: no "Skipping
registering function …" lines at INFO and no progress bars on stderr (Airflow logs stderr at ERROR).
Run in a fresh interpreter: GX logs that noise once, when it is first imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

VALIDATE_ONCE = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    sys.path.insert(0, "tests/unit"); sys.path.insert(0, "tests")
    from test_quality_suites import landed, person, seed_resource
    from quality import suites
    resource = seed_resource("resident_population")
    table = landed(resource, [person(n) for n in range(100, 160)])
    run = suites.validate(resource, table.to_pandas(), table=table, run_name="quiet", docs=True)
    print("ROWS", run.rows)
    """
)


def test_validation_logs_no_gx_noise_and_draws_no_progress_bar(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_ONCE],
        cwd=REPO,
        env={"HUB_VAR_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ROWS 60" in done.stdout
    assert "Skipping registering function" not in done.stdout + done.stderr
    assert "great_expectations" not in done.stdout  # nothing of GX's at INFO
    assert "%|" not in done.stderr and "Calculating Metrics" not in done.stderr, done.stderr[-2000:]
