"""The report's device-level charts: per video cloud, the online rate of each owning department's
channels against the 90 % target (PNG, the CJK font and colours of catalog/report/charts.py)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.ticker import PercentFormatter

from catalog.report.charts import BAD, GOOD, MUTED, _pyplot, _save

DPI = 160


def cloud_chart(cloud: dict, target: float, path: Path) -> Path:
    """Horizontal bars: each department's online rate on the cloud (worst at the top), the target line,
    and the cloud's own rate as the title."""
    plt = _pyplot()
    rows = cloud["departments"]
    height = max(1.8, 0.3 * len(rows) + 0.9)
    figure, axes = plt.subplots(figsize=(7.2, height), dpi=DPI)
    positions = range(len(rows))
    ratios = [row["online_ratio"] for row in rows]
    axes.barh(positions, ratios, color=[GOOD if ratio >= target else BAD for ratio in ratios], height=0.62)
    for position, row in zip(positions, rows):
        label = f"{row['online_ratio']:.1%}  在线 {row['online']}/{row['registered']}，上报 {row['reporting']}"
        axes.text(1.02, position, label, va="center", fontsize=7, color=MUTED)  # right of 100 %: clear of the line
    axes.set_yticks(list(positions), [row["department_name"] for row in rows])
    axes.invert_yaxis()
    axes.axvline(target, color=BAD, linestyle=":", linewidth=1.4)
    axes.set_xlim(0, 1.45)
    axes.set_xticks([0, 0.2, 0.4, 0.6, 0.8, target, 1.0])
    axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    title = (
        f"{cloud['title']}：在线率 {cloud['online_ratio']:.1%}（{cloud['online']}/{cloud['registered']} 路通道），"
        f"虚线为目标 {target:.0%}"
    )
    axes.set_title(title, loc="left", fontsize=10)
    return _save(plt, figure, path)


def device_charts(devices: dict, folder: Path) -> list[Path]:
    """One chart per video cloud that has landed channels, named `devices_<cloud>.png`."""
    target = devices["video"]["online_target"]
    return [
        cloud_chart(cloud, target, folder / f"devices_{cloud['cloud']}.png")
        for cloud in devices["video"]["by_cloud"]
        if cloud["registered"]
    ]
