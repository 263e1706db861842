"""A throwaway PostgreSQL cluster for the tests, started from Debian's server binaries.

It runs in a temporary folder on a free port (as the `postgres` user when the tests run
as root, since initdb refuses root) and fails, never skips, when the binaries are
missing: `make test` installs them (scripts/install-postgres.sh).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest


def _pg_bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit()
        else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). "
            "The target's tests need a real PostgreSQL: run scripts/install-postgres.sh.",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A PostgreSQL cluster in a temp dir, run as an unprivileged user when we are root."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="senseworks-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.sockets.mkdir()
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            # initdb refuses to run as root: hand the directory to the postgres user.
            self.user = "postgres"
            try:
                pw = pwd.getpwnam(self.user)
            except KeyError:
                pytest.fail("running as root and no 'postgres' OS user exists to run the "
                            "test cluster as", pytrace=False)
            for path in (self.root, self.sockets):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o755)

    def _run(self, *args: str) -> None:
        kwargs: dict[str, Any] = {"user": self.user} if self.user else {}
        proc = subprocess.run(args, capture_output=True, text=True, check=False,
                              cwd=self.root, **kwargs)
        if proc.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                        f"{tail}", pytrace=False)

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
        opts = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.root / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def running_cluster() -> Iterator[PgCluster]:
    """One cluster for the session; fails (never skips) without PostgreSQL binaries."""
    cluster = PgCluster()
    cluster.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                            dbname="postgres").close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield cluster
    cluster.stop()
