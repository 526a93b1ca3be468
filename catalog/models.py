"""The catalogue database model (SQLAlchemy 2 typed declarative).

Catalogue entries (departments, resources, items, bindings) come from the seed; evidence
(connector runs, landings, quality runs), status history and applied event ids come from
`hub.events`; coverage snapshots are written once per day and definition version and never changed.
Every timestamp is stored in UTC and read back tz-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names: the hand-written migration uses the same ones.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A tz-aware UTC datetime on every backend (SQLite keeps no zone, so UTC is assumed on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the catalogue stores tz-aware times only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(18))  # 提供方代码 (unified social credit code)
    division: Mapped[str] = mapped_column(String(12))

    resources: Mapped[list[Resource]] = relationship(back_populates="department")


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)
    classification: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    domain: Mapped[str] = mapped_column(String(32))
    update_cycle: Mapped[str | None] = mapped_column(String(16))
    sharing_type: Mapped[str] = mapped_column(String(16))
    sharing_condition: Mapped[str | None] = mapped_column(Text)
    sharing_method: Mapped[str] = mapped_column(String(16))
    open_type: Mapped[str] = mapped_column(String(16))
    release_date: Mapped[date] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(Integer)
    entry_status: Mapped[str] = mapped_column(String(16))  # 待提交 … 已下线, from the catalogue
    related: Mapped[list[Any]] = mapped_column(default=list)
    freshness_grace_hours: Mapped[float | None] = mapped_column(Float)
    quality_threshold: Mapped[float | None] = mapped_column(Float)
    spec_hash: Mapped[str] = mapped_column(String(64))  # fingerprint of the entry as loaded
    status: Mapped[str] = mapped_column(String(24))  # hub lifecycle status, see catalog.evidence
    status_since: Mapped[datetime]
    registered_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Declared row-set checks (added in 0007, so last: dumps of older rows keep their column order).
    checks: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")

    department: Mapped[Department] = relationship(back_populates="resources")
    items: Mapped[list[Item]] = relationship(
        back_populates="resource", order_by="Item.position", cascade="all, delete-orphan"
    )
    binding: Mapped[Binding | None] = relationship(back_populates="resource", cascade="all, delete-orphan")


class Item(Base):
    """An information item (信息项): one column of the resource."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(1))  # FoxPro letter: C N D T L I F B
    length: Mapped[int | None] = mapped_column(Integer)
    nullable: Mapped[bool]
    key: Mapped[bool]
    pii: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(default=dict)
    shared: Mapped[str | None] = mapped_column(String(64))  # 一数一源: the base item held ("人口.姓名")
    authoritative: Mapped[bool] = mapped_column(default=False)  # this resource is the item's 数源

    resource: Mapped[Resource] = relationship(back_populates="items")


class Binding(Base):
    """The source binding: which connector kind feeds the resource, with what config."""

    __tablename__ = "bindings"

    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    system: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)

    resource: Mapped[Resource] = relationship(back_populates="binding")


class ConnectorRun(Base):
    """Evidence: a connector run produced records to the resource's raw topic."""

    __tablename__ = "connector_runs"
    __table_args__ = (Index(None, "resource_id", "produced_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(128))
    produced_at: Mapped[datetime]
    records: Mapped[int] = mapped_column(Integer)
    dlq_records: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(String(64))
    offsets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # the pass ended with this error (records may still be > 0)


class Landing(Base):
    """Evidence: one bounded load from Kafka into the lake, successful or not."""

    __tablename__ = "landings"
    __table_args__ = (Index(None, "resource_id", "completed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    load_id: Mapped[str] = mapped_column(String(128))
    succeeded: Mapped[bool]
    completed_at: Mapped[datetime]
    files: Mapped[Any] = mapped_column(JSON, default=list)  # the Parquet files written (or their count)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    dlq_rows: Mapped[int] = mapped_column(Integer, default=0)  # messages of the range sent to the DLQ
    offsets: Mapped[Any] = mapped_column(JSON, default=dict)  # {partition: [first, last]} as landing reports it
    max_event_time: Mapped[datetime | None]
    schema_fingerprint: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class QualityRun(Base):
    """Evidence: the result of the resource's expectation suite on one load."""

    __tablename__ = "quality_runs"
    __table_args__ = (Index(None, "resource_id", "ran_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    load_id: Mapped[str | None] = mapped_column(String(128))
    ran_at: Mapped[datetime]
    rows_checked: Mapped[int] = mapped_column(Integer, default=0)
    rows_valid: Mapped[int] = mapped_column(Integer, default=0)
    pass_rate: Mapped[float | None] = mapped_column(Float)  # None: the run checked no rows
    failed_rules: Mapped[list[Any]] = mapped_column(default=list)  # [{name, critical, failed_rows}]
    failed_critical: Mapped[list[Any]] = mapped_column(default=list)  # names only
    quarantined_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    repairs: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")  # normaliser → rows
    docs_path: Mapped[str | None] = mapped_column(String(500))  # the run's page under the Data Docs folder


class StatusChange(Base):
    """Status history: one row per change of a resource's lifecycle status (and schema notes)."""

    __tablename__ = "status_changes"
    __table_args__ = (Index(None, "resource_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime]
    old_status: Mapped[str | None] = mapped_column(String(24))
    new_status: Mapped[str] = mapped_column(String(24))
    cause: Mapped[str] = mapped_column(String(32))  # the event type that caused it
    event_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class CoverageSnapshot(Base):
    """One day's coverage document for one definition version. Immutable once written."""

    __tablename__ = "coverage_snapshots"
    __table_args__ = (UniqueConstraint("snapshot_date", "definition_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_date: Mapped[date] = mapped_column(Date)
    definition_version: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime]
    aggregated: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    ratio: Mapped[float] = mapped_column(Float)
    weighted_ratio: Mapped[float] = mapped_column(Float)
    document: Mapped[dict[str, Any]]


class AppliedEvent(Base):
    """Every event id the catalogue has seen, so applying an event twice changes nothing."""

    __tablename__ = "applied_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64), index=True)  # no FK: rejected events may name unknown ids
    ts: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))  # applied | rejected
    detail: Mapped[str | None] = mapped_column(Text)


class SnapshotImmutableError(RuntimeError):
    pass


@event.listens_for(CoverageSnapshot, "before_update")
def _refuse_snapshot_update(_mapper, _connection, target: CoverageSnapshot) -> None:
    # The database refuses too (a trigger in the migration); this names the problem earlier.
    raise SnapshotImmutableError(
        f"coverage snapshot {target.snapshot_date} / {target.definition_version} is immutable: take a new one instead"
    )


class CoverageTargetSetting(Base):
    """The coverage target and its date as set through the API; the newest row wins over settings.

    Kept as history (a row per change, never updated) so a report can say which target was in force.
    """

    __tablename__ = "coverage_target_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[float] = mapped_column(Float)
    target_date: Mapped[date] = mapped_column(Date)
    set_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class Grant(Base):
    """An approved request of a department to read a 有条件共享 resource (warehouse.access reads them).

    Kept as history: revoking sets revoked_at, nothing is deleted, so the audit can say which grant
    let a query through.
    """

    __tablename__ = "grants"
    __table_args__ = (Index(None, "department_id", "resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(200))
    include_pii: Mapped[bool]
    valid_until: Mapped[datetime]
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    request_id: Mapped[int | None] = mapped_column(Integer)  # the approved GrantRequest (None: before 0005)


class QueryAudit(Base):
    """One analyst query: who, when, the SQL, allowed or refused and why, rows returned, duration."""

    __tablename__ = "query_audit"
    __table_args__ = (Index(None, "role", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(64))  # department id, admin or leadership
    asked_at: Mapped[datetime]
    sql_text: Mapped[str] = mapped_column(Text)
    allowed: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(Text)  # why refused (or the error the query ran into)
    rows: Mapped[int | None] = mapped_column(Integer)
    truncated: Mapped[bool] = mapped_column(default=False)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    channel: Mapped[str] = mapped_column(String(16), default="cli")  # cli | web
    # The authenticated account behind the query (the OS user before accounts existed); a platform
    # admin querying as a department shows here with role = that department and user_role = admin.
    user_name: Mapped[str | None] = mapped_column(String(128))
    user_role: Mapped[str | None] = mapped_column(String(32))
    # Written as 'started' before the query runs and completed after: ok | refused | killed |
    # crashed | interrupted. A row left 'started' past the wall time is read as interrupted.
    status: Mapped[str] = mapped_column(String(16), default="started")
    grant_ids: Mapped[list[Any]] = mapped_column(default=list)  # the grants that opened what it read
    finished_at: Mapped[datetime | None]


class Account(Base):
    """A person who uses the hub: a user name, the department they work for and their role.

    Roles: analyst (reads within the department's rights), steward (also approves grants of the
    department's resources), admin (runs the platform), leadership (reads coverage and marts).
    Disabled accounts stay (the audit names them); their tokens and sessions stop working.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    disabled_at: Mapped[datetime | None]


class ApiToken(Base):
    """An account's API token, kept only as its SHA-256 (the token is shown once, at issue)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, so a person can tell tokens apart
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser login to the catalogue service (the cookie holds the id; this row its SHA-256)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class GrantRequest(Base):
    """A department's request to read a 有条件共享 resource, decided by the owner's steward.

    pending → approved (a Grant row is made) | denied (with a reason) | withdrawn. Reading PII in
    clear is asked for with `pii_requested` and approved separately (`pii_decision`).
    """

    __tablename__ = "grant_requests"
    __table_args__ = (Index(None, "resource_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    pii_requested: Mapped[bool]
    valid_until: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    pii_decision: Mapped[str | None] = mapped_column(String(16))  # approved | denied, when PII was asked for
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"))


class GrantEvent(Base):
    """One step of a grant's life: requested, approved, pii_approved, pii_denied, denied, revoked.

    Append-only: who did it (user, their role and department), when, and the reason given.
    """

    __tablename__ = "grant_events"
    __table_args__ = (Index(None, "request_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("grant_requests.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_department: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class Objection(Base):
    """An objection (异议 / 校核纠错) to a resource's data, addressed to the steward of its 数源部门.

    raised → accepted → flagged → corrected → closed, or rejected with a reason. Deadlines count
    working days on the Chinese calendar (catalog.workdays) from `raised_at`. A quality objection
    (origin `quality`) is opened by a critical rule failing beyond the threshold and closes itself
    when a later load passes the rule. Rebuilt from hub.events like every other catalogue row.
    """

    __tablename__ = "objections"
    __table_args__ = (Index(None, "resource_id", "state"), Index(None, "department_id", "state"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))  # the 数源部门 that answers
    origin: Mapped[str] = mapped_column(String(16))  # quality | analyst
    item: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(128))  # the failing rule of a quality objection
    reason: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime]
    ack_due: Mapped[datetime]
    resolve_due: Mapped[datetime]
    provisional_calendar: Mapped[bool]  # a deadline crossed a year whose holidays the calendar does not know
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]  # closed or rejected
    resolution: Mapped[str | None] = mapped_column(Text)  # why rejected, or what verified the correction


class ObjectionStep(Base):
    """One step of an objection, append-only: who, when, and what they said."""

    __tablename__ = "objection_steps"
    __table_args__ = (Index(None, "objection_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[str] = mapped_column(ForeignKey("objections.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class SavedQuery(Base):
    """An analyst's saved SQL in the workspace: their own, or shared with their whole department."""

    __tablename__ = "saved_queries"
    __table_args__ = (Index(None, "department_id", "shared"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[str] = mapped_column(String(32))  # the role it was saved under (a department, admin…)
    title: Mapped[str] = mapped_column(String(200))
    sql_text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ExportJob(Base):
    """A workspace export run in the background: queued → running → done | failed, then expired.

    The file lives under <var>/exports until expires_at (HUB_EXPORT_KEEP_HOURS after it was written).
    """

    __tablename__ = "export_jobs"
    __table_args__ = (Index(None, "user_name", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the file's name: not guessable from the id
    user_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    sql_text: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    audit_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
