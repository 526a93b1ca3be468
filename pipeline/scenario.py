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
- **Bad batch** of a resource from `day`: the department's nightly export writes `rows` records with
  a value outside an item's value set, and writes them again every night until `corrected_on`;
  each of those days' quality run fails a critical rule, so the resource is out from `day` to
  `corrected_on - 1`. The first failure opens an objection to the department (异议, 2 working days
  to acknowledge, nobody does here), which falls overdue by the Chinese calendar, holidays and
  make-up days included. On `corrected_on` the department rewrites the records with their values,
  the quality run passes, the resource counts again and the objection closes as verified.
- **Late binding** of a resource on `day`: an entry of the catalogue without a binding gets one
  through the catalogue's API path (a `resource.updated` event, as `PUT /api/resources/ID` makes);
  it is due at once (never run), lands that day and counts from `day`. The department's system
  held the table all along: the stand-ins are built from the catalogue with the binding in place.
- **Share request** (共享申请) by a department for a 有条件共享 resource on `day`, answered (approved)
  by the owner's steward on `answered_on`: on time when that is within the configured working
  days (HUB_SHARE_ANSWER_WORKDAYS), late otherwise. Coverage does not move; the scorecard does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Outage:
    department: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class BadBatch:
    resource: str
    day: int
    corrected_on: int  # the first day the export is right again
    rows: int = 10

    def __post_init__(self) -> None:
        if self.corrected_on <= self.day:
            raise ValueError(
                f"bad batch of {self.resource}: corrected_on {self.corrected_on} must follow day {self.day}"
            )


@dataclass(frozen=True)
class LateBinding:
    resource: str
    day: int
    binding: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ShareRequest:
    resource: str
    department: str  # who asks
    day: int
    answered_on: int  # approved by the owner's steward that day

    def __post_init__(self) -> None:
        if self.answered_on < self.day:
            raise ValueError(
                f"share request for {self.resource}: answered_on {self.answered_on} precedes day {self.day}"
            )


@dataclass(frozen=True)
class Scenario:
    outages: tuple[Outage, ...] = ()
    bad_batches: tuple[BadBatch, ...] = ()
    late_bindings: tuple[LateBinding, ...] = ()
    share_requests: tuple[ShareRequest, ...] = ()
    # Whether the stand-ins' daily records carry random injected defects too (`hub seed` without
    # --clean). Off: the faults above are the only ones after day 1, so every day's coverage follows
    # from the scenario; day 1 loads the sources' initial defects (the manifest's ground truth).
    step_defects: bool = False

    def down_on(self, day: int) -> set[str]:
        """Departments whose database is down on `day`."""
        return {o.department for o in self.outages if o.first_day <= day <= o.last_day}

    def outages_starting(self, day: int) -> list[str]:
        return [o.department for o in self.outages if o.first_day == day]

    def outages_ending(self, day: int) -> list[str]:
        """Departments whose database is back on `day` (down until the day before)."""
        return [o.department for o in self.outages if o.last_day + 1 == day]

    def bad_batches_on(self, day: int) -> list[BadBatch]:
        """Bad batches the departments' exports write on `day` (the first, or again)."""
        return [b for b in self.bad_batches if b.day <= day < b.corrected_on]

    def corrections_on(self, day: int) -> list[BadBatch]:
        return [b for b in self.bad_batches if b.corrected_on == day]

    def bindings_on(self, day: int) -> list[LateBinding]:
        return [b for b in self.late_bindings if b.day == day]

    def requests_on(self, day: int) -> list[ShareRequest]:
        return [r for r in self.share_requests if r.day == day]

    def answers_on(self, day: int) -> list[ShareRequest]:
        return [r for r in self.share_requests if r.answered_on == day]


#: The first day of the default scenario: Wednesday 2026-09-23, so its first ten days run over the
#: Mid-Autumn holiday (Fri 25 Sep, off with the weekend) into National Day (1 Oct): day 3 is 25 Sep,
#: day 6 Monday 28 Sep, day 9 1 Oct. Deadlines in working days cross both.
DEFAULT_START = date(2026, 9, 23)

DEFAULT = Scenario(
    # 区市场监督管理局's database is down on days 3–5 (the holiday weekend): its five 每日 resources
    # drop out on days 4 and 5.
    outages=(Outage("scjgj", first_day=3, last_day=5),),
    # 区政务服务数据管理局's nightly export writes ten resident records with 婚姻状况 = "X" from day 2
    # (Thursday 24 Sep) until it is fixed on day 9. The objection it opens is due for acknowledgement
    # at the end of the second working day after: Tuesday 29 Sep (Friday 25 Sep is Mid-Autumn), so it
    # is overdue from day 8.
    bad_batches=(BadBatch("resident_population", day=2, corrected_on=9, rows=10),),
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
    # 民政局 and 卫健局 ask for the resident register on day 1; 政数局 answers 民政局 on day 6
    # (Monday 28 Sep) and 卫健局 on day 7.
    share_requests=(
        ShareRequest("resident_population", "mzj", day=1, answered_on=6),
        ShareRequest("resident_population", "wsjkj", day=1, answered_on=7),
    ),
)
