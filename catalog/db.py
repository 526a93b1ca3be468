"""The catalogue database: engine and session factory from settings, and schema migration.

SQLite under var/ by default (WAL so the consumer and the CLI can work at the same time, foreign
keys on because SQLite leaves them off); PostgreSQL when HUB_CATALOG_URL says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hub.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def catalog_url(url: str | None = None) -> str:
    """`url` or the configured HUB_CATALOG_URL (default: SQLite under var/)."""
    if url:
        return url
    return get_settings().catalog_url


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine on the catalogue database; for SQLite the folder is created and pragmas are set."""
    resolved = make_url(catalog_url(url))
    if resolved.get_backend_name() == "sqlite":
        if resolved.database and resolved.database != ":memory:":
            Path(resolved.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(resolved, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (used to isolate one bad event):
    # switch it off and let SQLAlchemy emit BEGIN itself (the recipe in SQLAlchemy's SQLite docs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # IMMEDIATE takes the write lock at the start: two writers (say, two DAG tasks consuming
    # events) then queue on busy_timeout instead of failing when a read snapshot cannot be
    # upgraded to a write. WAL keeps readers unblocked.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


# Any constant shared by all catalogue writers; "hubc" in ASCII.
WRITER_LOCK_KEY = 0x68756263


def lock_writers(session: Session) -> None:
    """Let one writer of events at a time into this transaction (until it ends).

    Two consumers (parallel DAG tasks) may apply the same events; taken in turn, the second sees
    the first's event ids and skips them. On SQLite BEGIN IMMEDIATE already does this.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK_KEY})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit off: CLI code reads rows after the commit that stored them.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None, *, migrate_first: bool = True) -> Iterator[Session]:
    """A session committed on success and rolled back on error; the schema is migrated first."""
    engine = make_engine(url)
    try:
        if migrate_first:
            migrate(engine=engine)
        with session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def migrate(url: str | None = None, *, engine: Engine | None = None) -> None:
    """Run `alembic upgrade head` on the catalogue database (idempotent)."""
    owned = engine is None
    engine = engine or make_engine(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as connection:
            # Handing over the connection avoids putting the URL (and its password) into an ini
            # string, where configparser would also choke on '%'.
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if owned:
            engine.dispose()
