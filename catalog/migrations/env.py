"""Alembic environment for the catalogue database.

`catalog.db.migrate()` passes an open connection in `config.attributes["connection"]`; the
`alembic` command line (with `-x url=...` or HUB_CATALOG_URL) opens its own.
"""

from __future__ import annotations

from alembic import context

from catalog.db import make_engine
from catalog.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = make_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported: run `hub catalog load` or catalog.db.migrate()"
    )
run_online()
