"""Engines for SQLite and PostgreSQL that behave alike, and secret masking."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///senseworks.db"

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@\s]*(?P<at>@)")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'[^']*'|\S+)", re.IGNORECASE)


def mask_secrets(text: str, url: str | None = None) -> str:
    """Hide passwords in URLs and libpq key/value strings, and the given URL's password."""
    if url:
        try:
            password = make_url(url).password
        except Exception:  # an unparsable URL still gets the regex treatment
            password = None
        if password:
            text = text.replace(str(password), "***")
    text = _URL_PASSWORD.sub(r"\g<head>***\g<at>", text)
    return _KV_PASSWORD.sub(r"\g<head>***", text)


def safe_url(url: str) -> str:
    """The URL as it may be logged."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return mask_secrets(url)


def make_engine(url: str = DEFAULT_DATABASE_URL, *, writer: bool = False, **kwargs: Any
                ) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout.

    WAL lets readers keep reading the last committed state while a year is applied.
    A `writer` engine begins with BEGIN IMMEDIATE: it takes the write lock up front
    so two writers queue instead of one failing halfway through a transaction.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "postgresql" and sa_url.get_driver_name() in ("", "psycopg2"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if writer and sa_url.get_backend_name() == "sqlite" and sa_url.database not in (None, "", ":memory:"):
        # A fresh checkout has no output/ folder yet: the ledger file's folder is ours to make.
        Path(sa_url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sa_url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if sa_url.database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine
