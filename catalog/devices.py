"""Device-level coverage in the coverage document (key `devices`): the figures the warehouse
computed from staging (warehouse/devices.py writes one JSON file per computation into
HUB_DEVICE_COVERAGE_DIR). The catalogue reads the newest computation made at or before as_of and
never opens the warehouse itself, so the layers stay one-way and reading still writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from hub.files import newest_json_at
from hub.settings import get_settings

ONLINE_TARGET = 0.9  # the district's target for the online rate of monitoring points


def empty(reason: str) -> dict:
    """The same keys when nothing was computed yet, with the reason."""
    zero_video = {"registered": 0, "reporting": 0, "online": 0, "reporting_ratio": 0.0, "online_ratio": 0.0}
    return {
        "definition_version": None,
        "computed_at": None,
        "reason": reason,
        "video": {
            "online_target": ONLINE_TARGET,
            "overall": {**zero_video, "meets_target": False},
            "by_cloud": [],
            "by_department": [],
            "by_town": [],
            "by_cloud_department": [],
        },
        "iot": {"overall": {"registered": 0, "reporting": 0, "ratio": 0.0}, "by_type": [], "by_town": []},
    }


def device_document(as_of: datetime) -> dict:
    """The newest device computation at or before `as_of` (UTC file names sort in time order)."""
    document = newest_json_at(get_settings().device_coverage_dir, as_of)
    if document is not None:
        return {**document, "reason": None}
    return empty(f"no device figures computed at or before {as_of.isoformat()}: run `hub warehouse devices`")


def labelled(devices: dict, department_names: dict[str, str]) -> dict:
    """The device figures with each department's name beside its id, and each cloud's rows by department
    (worst online rate first) under the cloud: what the pages and the report draw."""
    video = devices["video"]

    def named(row: dict) -> dict:
        return {**row, "department_name": department_names.get(row["department"], row["department"])}

    by_cloud_department = [named(row) for row in video["by_cloud_department"]]
    clouds = [
        {
            **cloud,
            "departments": sorted(
                (row for row in by_cloud_department if row["cloud"] == cloud["cloud"]),
                key=lambda row: (row["online_ratio"], row["department"]),
            ),
        }
        for cloud in video["by_cloud"]
    ]
    return {
        **devices,
        "video": {
            **video,
            "by_cloud": clouds,
            "by_department": [named(row) for row in video["by_department"]],
            "by_cloud_department": by_cloud_department,
        },
    }


def department_part(devices: dict, department_id: str) -> dict:
    """One department's channels: its overall row and one row per cloud it owns channels in."""
    video = devices["video"]
    return {
        "computed_at": devices["computed_at"],
        "online_target": video["online_target"],
        "overall": next((row for row in video["by_department"] if row["department"] == department_id), None),
        "by_cloud": [
            {**row, "title": next((c["title"] for c in video["by_cloud"] if c["cloud"] == row["cloud"]), row["cloud"])}
            for row in video["by_cloud_department"]
            if row["department"] == department_id
        ],
    }
