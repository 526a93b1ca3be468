"""The report's charts as PNG files (matplotlib, Agg), with a CJK font so Chinese labels render.

The font is the file fontconfig gives for "Noto Sans CJK SC" (Debian's fonts-noto-cjk); without it
the report stops with the package to install rather than print boxes instead of characters.
"""

from __future__ import annotations

import functools
import subprocess
from datetime import date
from pathlib import Path

import matplotlib
from matplotlib import font_manager, pyplot
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.ticker import PercentFormatter

from catalog.report.errors import ReportError

CJK_FAMILY = "Noto Sans CJK SC"
GOOD, WARN, BAD, ACCENT, MUTED = "#1a7f37", "#b7791f", "#c62828", "#1f5fa8", "#66717e"
AMBER_SHARE_OF_TARGET = 0.75  # as `hub coverage` and the dashboard colour a ratio
DPI = 160


@functools.cache
def cjk_font_file() -> Path:
    """The CJK font file fontconfig resolves for Noto Sans CJK SC; ReportError if there is none."""
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{family}\n%{file}", CJK_FAMILY], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ReportError(
            f"fc-match failed ({exc}): install fontconfig and fonts-noto-cjk (scripts/system-deps.sh report)"
        ) from exc
    family, _, file = found.partition("\n")
    if "CJK" not in family or not Path(file).is_file():
        raise ReportError(
            f"no CJK font ({CJK_FAMILY!r} resolves to {family!r}): install fonts-noto-cjk "
            "(scripts/system-deps.sh report; make test does it)"
        )
    return Path(file)


def _pyplot():
    matplotlib.use("Agg")
    font_manager.fontManager.addfont(str(cjk_font_file()))
    pyplot.rcParams.update(
        {
            "font.family": CJK_FAMILY,
            "font.size": 9,
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return pyplot


def _tone(ratio: float, target: float) -> str:
    if ratio >= target:
        return GOOD
    return WARN if ratio >= target * AMBER_SHARE_OF_TARGET else BAD


def trend_chart(document: dict, path: Path) -> Path:
    """Daily ratio, the target line, and the projection to the target date."""
    plt = _pyplot()
    target, projection = document["target"], document["projection"]
    days = [date.fromisoformat(point["date"]) for point in document["trend"]]
    ratios = [point["ratio"] for point in document["trend"]]
    figure, axes = plt.subplots(figsize=(7.2, 2.9), dpi=DPI)
    axes.plot(days, ratios, color=ACCENT, marker="o", markersize=3, linewidth=2, label="覆盖率（每日快照）")
    due = date.fromisoformat(projection["target_date"])
    colour = GOOD if projection["on_track"] else BAD
    if due > days[-1]:
        axes.plot(
            [days[-1], due],
            [ratios[-1], projection["projected_ratio"]],
            linestyle="--",
            color=colour,
            linewidth=1.6,
            label=f"预测 {projection['projected_ratio']:.1%}（{projection['target_date']}）",
        )
        axes.plot([due], [projection["projected_ratio"]], marker="o", color=colour)
    axes.axhline(target, color=BAD, linestyle=":", linewidth=1.4, label=f"目标 {target:.0%}")
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    axes.grid(axis="y", color="#e3e7eb")
    axes.legend(loc="upper left", frameon=False, fontsize=8)
    return _save(plt, figure, path)


def bar_chart(rows: list[dict], label_key: str, target: float, path: Path, *, title: str) -> Path:
    """Horizontal bars of ratio per group (worst at the top), with the target line."""
    plt = _pyplot()
    ordered = list(rows)
    height = max(1.6, 0.24 * len(ordered) + 0.7)
    figure, axes = plt.subplots(figsize=(7.2, height), dpi=DPI)
    names = [row[label_key] for row in ordered]
    ratios = [row["ratio"] for row in ordered]
    positions = range(len(ordered))
    axes.barh(positions, ratios, color=[_tone(ratio, target) for ratio in ratios], height=0.65)
    for position, row in zip(positions, ordered):
        axes.text(
            min(row["ratio"], 1.0) + 0.01,
            position,
            f"{row['ratio']:.1%}  {row['aggregated']}/{row['total']}",
            va="center",
            fontsize=7,
            color=MUTED,
        )
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.axvline(target, color=BAD, linestyle=":", linewidth=1.4)
    axes.set_xlim(0, 1.18)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_title(title, loc="left", fontsize=10)
    return _save(plt, figure, path)


def _save(plt, figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
