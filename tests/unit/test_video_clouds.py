"""The three video clouds' stand-ins: declared once, 60 k+ channels at full scale from 21 departments
of the catalogue, a status log consistent with the device catalogue, AI alerts of 21 algorithms, and
the injected alert defects in the tally."""

from __future__ import annotations

from collections import Counter

from seed_kit import seed_catalogue

from catalog.systems import BY_NAME, VIDEO_CLOUDS
from quality.rules import is_valid_camera_id
from synthetic import video_clouds
from synthetic.base import DEFAULT_AS_OF, ResourceContext
from synthetic.defects import Tally

RESOURCES = {r.id: r for r in seed_catalogue().resources}


def _ctx(resource_id: str, scale: str = "small") -> ResourceContext:
    resource = RESOURCES[resource_id]
    return ResourceContext(resource, 7, scale, 0, DEFAULT_AS_OF, Tally([i.name for i in resource.items if i.key]))


def _rows(ctx: ResourceContext) -> list[dict]:
    return [
        row for chunk in video_clouds.GENERATORS_BY_PART[ctx.resource.id.rsplit("_cloud_", 1)[1]](ctx) for row in chunk
    ]


def test_three_clouds_declared_once_and_generated_for_each():
    assert set(video_clouds.CLOUDS) == set(VIDEO_CLOUDS)
    assert all(BY_NAME[cloud].kind == "http" and BY_NAME[cloud].domain == "video" for cloud in VIDEO_CLOUDS)
    bound = Counter(r.binding.system for r in RESOURCES.values() if r.binding and r.binding.system in VIDEO_CLOUDS)
    assert bound == {cloud: 3 for cloud in VIDEO_CLOUDS}
    roles = {
        r.binding.config.get("device_role")
        for r in RESOURCES.values()
        if r.binding and r.binding.system in VIDEO_CLOUDS
    }
    assert roles == {"registry", "status", "alerts"}


def test_full_scale_holds_60k_channels_owned_by_21_catalogue_departments():
    assert sum(cloud.full for cloud in video_clouds.CLOUDS.values()) >= 60_000
    owners = {owner for cloud in video_clouds.CLOUDS.values() for owner, _industry, _w in cloud.owners}
    assert len(owners) == 21 and owners <= {d.id for d in seed_catalogue().departments}


def test_the_catalogue_status_of_a_channel_is_its_last_event():
    devices = _rows(_ctx("city_cloud_devices"))
    events = _rows(_ctx("city_cloud_status"))
    last = {}
    for event in events:
        if event.get("device_id"):
            last[event["device_id"]] = event["status"]  # events come in time order
    checked = [row for row in devices if row.get("device_id") in last]
    assert len(checked) > 0.95 * len(devices)
    assert all(row["status"] == last[row["device_id"]] for row in checked)
    assert len({row["owner"] for row in devices}) == 9


def test_every_well_formed_channel_id_passes_the_camera_id_rule():
    ctx = _ctx("gov_cloud_devices")
    devices = [row for row in _rows(ctx) if row.get("device_id")]
    malformed = set(ctx.tally.as_manifest()["defects"].get("camera_id_malformed", ()))
    assert malformed and all(not is_valid_camera_id(d) for d in malformed)
    assert all(is_valid_camera_id(row["device_id"]) for row in devices if row["device_id"] not in malformed)


def test_alerts_carry_camera_time_type_confidence_and_snapshot_and_their_defects():
    ctx = _ctx("police_cloud_ai_alerts")
    alerts = [row for row in _rows(ctx) if row.get("alert_id")]
    assert len(video_clouds.ALGORITHMS) == 21 == len(set(video_clouds.ALGORITHMS))
    clean = [row for row in alerts if row["alg_type"] in video_clouds.ALGORITHMS and 0 <= row["confidence"] <= 1]
    assert len(clean) > 0.97 * len(alerts)
    assert all(row["snapshot_ref"].endswith(".jpg") and row["device_id"] and row["ts"] for row in alerts)
    defects = ctx.tally.as_manifest()["defects"]
    assert {"confidence_out_of_range", "alert_type_unknown", "unreadable_row"} <= set(defects)
    by_id = {row["alert_id"]: row for row in alerts}
    assert all(not 0 <= by_id[i]["confidence"] <= 1 for i in defects["confidence_out_of_range"])
    assert all(by_id[i]["alg_type"] not in video_clouds.ALGORITHMS for i in defects["alert_type_unknown"])


def test_some_departments_fall_below_the_online_target_and_some_reach_it():
    shares = [
        video_clouds.online_share(7, owner) for cloud in video_clouds.CLOUDS.values() for owner, *_ in cloud.owners
    ]
    assert min(shares) < 0.9 < max(shares)
