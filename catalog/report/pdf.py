"""HTML → PDF with headless Chromium's own printer (`--print-to-pdf`), so the PDF is the page as drawn."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from catalog.report.errors import ReportError

# The network is closed and there is no GPU: without these flags Chromium waits on both.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PRINT_TIMEOUT_S = 120


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ReportError(
            "chromium is not installed, so no PDF: install it with scripts/system-deps.sh browser "
            "(make test does), or render with --no-pdf"
        )
    return found


def print_to_pdf(html: Path, pdf: Path) -> Path:
    """Print `html` (a file, its images beside it) to `pdf` with a fresh, empty browser profile."""
    with tempfile.TemporaryDirectory(prefix="hub-report-chromium-") as profile:
        command = [
            chromium_path(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not print {html} within {PRINT_TIMEOUT_S} s") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ReportError(f"chromium could not print {html} to {pdf} (exit {done.returncode}): {' | '.join(tail)}")
    return pdf
