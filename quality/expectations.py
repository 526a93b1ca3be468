"""Custom Great Expectations expectations for the hub's checks that GX has no built-in for.

Domain rules (resident IDs, credit codes, …), "present", regexes (RE2 semantics, as the fast path
uses), key uniqueness and the row-set checks (meters, households, geometry) are GX map
expectations whose pandas condition computes the check's mask with `quality.plan.failing_mask`
over the batch's Arrow table — one implementation, so the GX suite and the vectorised path agree
row for row. GX kwargs must be JSON, so an expectation names its check (`suite`, `check`) and the
check, the Arrow batch and the staged history are looked up in `ACTIVE` for the run under way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, MulticolumnMapExpectation
from great_expectations.expectations.metrics import ColumnMapMetricProvider, column_condition_partial
from great_expectations.expectations.metrics.map_metric_provider import MulticolumnMapMetricProvider
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)

from quality.errors import QualityError
from quality.plan import Check, failing_mask


@dataclass
class ActiveRun:
    """What a validation under way checks: the plan's checks by name, the batch, the history."""

    checks: dict[str, Check]
    table: pa.Table
    history: dict[str, pa.Table | None]


#: suite name → the run under way (one validation per suite at a time in a process).
ACTIVE: dict[str, ActiveRun] = {}


def _passing(suite: str, check: str, index: pd.Index) -> pd.Series:
    run = ACTIVE.get(suite)
    if run is None or check not in run.checks:
        raise QualityError(
            f"no validation of suite {suite!r} with check {check!r} is under way: "
            "validate through quality.suites.validate"
        )
    if len(index) != run.table.num_rows:
        raise QualityError(
            f"check {check} of {suite}: GX passed {len(index)} of {run.table.num_rows} rows; "
            "hub expectations must see the whole batch"
        )
    mask = failing_mask(run.checks[check], run.table, run.history.get(check))
    return pd.Series(~np.asarray(mask, dtype=bool), index=index)


class ColumnValuesPassHubCheck(ColumnMapMetricProvider):
    condition_metric_name = "column_values.hub_check"
    condition_value_keys = ("suite", "check")
    filter_column_isnull = False  # nulls are the check's business (most pass, "present" fails them)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, suite, check, **kwargs):
        return _passing(suite, check, column.index)


class ExpectColumnValuesToPassHubCheck(ColumnMapExpectation):
    """Each value of the column passes the hub check named `check` (quality.plan), e.g. a GB 11643
    resident ID, a GB 32100 credit code, a mobile number, a regex, present and not blank."""

    suite: str
    check: str
    map_metric = "column_values.hub_check"
    success_keys = ("suite", "check", "mostly")


class RowsPassHubCheck(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.hub_check"
    condition_value_keys = ("suite", "check")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, suite, check, **kwargs):
        return _passing(suite, check, column_list.index)


class ExpectRowsToPassHubCheck(MulticolumnMapExpectation):
    """Each row passes the hub check named `check` over several columns: key uniqueness in the
    load, meter readings (rollback, spike, stuck), households with a head, geometry in the box."""

    suite: str
    check: str
    ignore_row_if: str = "never"
    map_metric = "multicolumn_values.hub_check"
    success_keys = ("suite", "check", "mostly")
