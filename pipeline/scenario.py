"""The simulation's scenario: what happens on which simulated day, declared in one place.

Days count from 1 (the simulation's first day). `DEFAULT` is what `hub simulate` and `make demo
ARGS="--simulate N"` play; every event of it falls in the first ten days, so the e2e test's
ten-day run sees each one, and a longer run shows the recovery holding.

What each event means for coverage (the reasoning tests/e2e/test_simulation.py writes down):

- **Outage** of a department's database from `first_day` to `last_day`: its connectors fail on
  those days and land nothing. A 每日 resource last landed on the day before the outage stays
  fresh for its 36 h window, so it counts on `first_day` (landed 24 h before) and drops out from
  `first_day + 1` until the source is back; on `last_day + 1` it lands again and counts. Weekly and
  longer cycles outlast a few days' outage.
- **Bad batch** of a resource on `day`: the department rewrites `rows` records with a value outside
  an item's value set; that day's quality run fails a critical rule, so the resource drops out on
  `day`; the department corrects the records on `day + 1`, the quality run passes, it counts again.
- **Late binding** of a resource on `day`: an entry of the catalogue without a binding gets one
  through the catalogue's API path (a `resource.updated` event, as `PUT /api/resources/ID` makes);
  it is due at once (never run), lands that day and counts from `day`. The department's system
  held the table all along: the stand-ins are built from the catalogue with the binding in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outage:
    department: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class BadBatch:
    resource: str
    day: int  # corrected on day + 1
    rows: int = 10


@dataclass(frozen=True)
class LateBinding:
    resource: str
    day: int
    binding: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    outages: tuple[Outage, ...] = ()
    bad_batches: tuple[BadBatch, ...] = ()
    late_bindings: tuple[LateBinding, ...] = ()

    def down_on(self, day: int) -> set[str]:
        """Departments whose database is down on `day`."""
        return {o.department for o in self.outages if o.first_day <= day <= o.last_day}

    def outages_starting(self, day: int) -> list[str]:
        return [o.department for o in self.outages if o.first_day == day]

    def outages_ending(self, day: int) -> list[str]:
        """Departments whose database is back on `day` (down until the day before)."""
        return [o.department for o in self.outages if o.last_day + 1 == day]

    def bad_batches_on(self, day: int) -> list[BadBatch]:
        return [b for b in self.bad_batches if b.day == day]

    def corrections_on(self, day: int) -> list[BadBatch]:
        return [b for b in self.bad_batches if b.day + 1 == day]

    def bindings_on(self, day: int) -> list[LateBinding]:
        return [b for b in self.late_bindings if b.day == day]


DEFAULT = Scenario(
    # 区市场监督管理局's database is down on days 3–5: its five 每日 resources drop out on days 4 and 5.
    outages=(Outage("scjgj", first_day=3, last_day=5),),
    # 区政务服务数据管理局 exports ten resident records with 婚姻状况 = "X" on day 7 and corrects them on day 8.
    bad_batches=(BadBatch("resident_population", day=7, rows=10),),
    # The 12345 hotline's tickets (catalogued, never bound) are connected on day 6.
    late_bindings=(
        LateBinding(
            "hotline_12345",
            day=6,
            binding={
                "kind": "sql",
                "system": "population_db",
                "config": {"table": "hotline_12345_tickets", "cursor_column": "ldsj"},
            },
        ),
    ),
)
