"""The district's local time zone, defined once: stored times are UTC with offset, people see this.

Shunde keeps UTC+08:00 all year (no daylight saving since 1991), so a fixed offset is exact for
every time the hub stores and, unlike the tz database's rules, gives old dates (births before
1991) the same +08:00 the departments' systems wrote.
"""

from __future__ import annotations

from datetime import timedelta, timezone

LOCAL_TZ_NAME = "Asia/Shanghai"  # for schedulers that take a tz database name (Airflow's cron timetables)
LOCAL_OFFSET = timedelta(hours=8)
LOCAL_TZ = timezone(LOCAL_OFFSET, LOCAL_TZ_NAME)
