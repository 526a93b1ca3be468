"""The flag an analyst sees while an objection to the data they read is open (catalog.objections).

A query that reads a resource with open objections gets one notice per objection after its result:
which item is in doubt, since when and in what state, so nobody reports a figure the 数源部门 is
still correcting without knowing it.
"""

from __future__ import annotations

import re

from catalog import objections
from catalog.db import session_scope
from hub.timezone import LOCAL_TZ


def notices(statement: str) -> list[str]:
    """One line per open objection on a resource the statement names (as `staging.<id>` or `<id>`)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", statement.lower()))
    with session_scope() as session:
        found = [row for row in objections.objections(session, open_only=True) if row.resource_id.lower() in words]
        return [
            f"异议未办结 {row.id}: {row.resource_id}{'.' + row.item if row.item else ''} "
            f"（{objections.STATE_LABELS[row.state]}，{row.raised_at.astimezone(LOCAL_TZ):%Y-%m-%d} 提出）：{row.reason}"
            for row in found
        ]
