"""What a catalogue entry may declare under `checks:` — the catalogue's vocabulary of row-set checks.

Each name is a check over rows together and its roles are the items the entry must name for it.
quality/rowchecks.py implements them; quality.plan.register_row_check refuses an implementation
whose name or roles this vocabulary does not declare, so the lint and the gate cannot drift apart.
"""

from __future__ import annotations

SEVERITIES = ("critical", "warning")

_METER = ("meter", "time", "value", "event")
ROW_CHECK_ROLES: dict[str, tuple[str, ...]] = {
    "meter_rollback": _METER,
    "meter_spike": _METER,
    "meter_stuck": _METER,
    "household_head": ("household", "relation"),
    "geometry_in_box": ("geometry", "crs"),
    "gcj02_shift": ("lon", "lat", "x", "y"),
    # The drone platform (quality/dronechecks.py): footprints, flights and event work orders.
    "geometry_valid": ("geometry",),
    "time_order": ("earlier", "later"),
    "work_order_status": ("order", "status", "distributed", "verified", "disposed"),
    "work_order_dates": ("reported", "distributed", "verified", "disposed"),
}
