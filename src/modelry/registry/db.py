"""Where the registry index lives: its tables, and one engine per database URL.

SQLite is the embedded default; its connections are set up so that two
processes writing at once wait for each other (WAL, busy timeout, write
transactions that take the lock up front). PostgreSQL URLs are mapped to the
psycopg 3 driver.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url

from modelry.errors import MissingExtraError

# Arbitrary, fixed: the PostgreSQL advisory lock that serialises schema creation.
_SCHEMA_LOCK_KEY = 7081547761
# NaN becomes null (PostgreSQL's JSON refuses NaN); numpy scalars need no numpy import.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

# The values of model_versions.status (see modelry.registry.store for their life cycle).
PENDING, READY, DELETED = "pending", "ready", "deleted"

metadata = MetaData()
versions_t = Table(
    "model_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("task", String(64), nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("description", Text, nullable=False),
)
aliases_t = Table(
    "aliases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
)
# One row whose counter moves on every visible change: a server polls it to hot-swap.
revision_t = Table(
    "registry_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("counter", Integer, nullable=False),
)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN past our SELECTs; we
        # issue BEGIN ourselves (below) so write transactions can take the lock first.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # Two processes writing at once wait for each other instead of failing.
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front (waiting on busy_timeout); a
        # deferred transaction that reads then writes fails at once if another
        # writer got in between. Reads stay deferred so they never block.
        write = conn.get_execution_options().get("modelry_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def engine_for(url: str) -> Engine:
    """The process's engine for ``url``, created on first use (one pool per URL)."""
    url = _normalise_url(url)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        parsed = make_url(url)
        options: dict[str, Any] = {
            "json_serializer": lambda obj: orjson.dumps(obj, option=_JSON_OPTIONS).decode(),
            "json_deserializer": orjson.loads,
        }
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30.0}
        else:
            options["pool_pre_ping"] = True
        try:
            engine = create_engine(url, **options)
        except ImportError as exc:
            raise MissingExtraError("psycopg", "postgres") from exc
        if parsed.get_backend_name() == "sqlite":
            _sqlite_setup(engine)
        _engines[url] = engine
        return engine


def ensure_schema(conn: Connection) -> None:
    """Create the tables and the revision row if absent (safe from several processes)."""
    if conn.dialect.name == "postgresql":
        # CREATE TABLE from several processes at once collides in the catalog.
        conn.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})"))
    metadata.create_all(conn)
    if conn.execute(select(revision_t.c.id)).first() is None:
        conn.execute(insert(revision_t).values(id=1, counter=0))


__all__ = [
    "DELETED",
    "PENDING",
    "READY",
    "aliases_t",
    "engine_for",
    "ensure_schema",
    "metadata",
    "revision_t",
    "versions_t",
]
