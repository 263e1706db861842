"""Benchmark: one generated Singer stream into target-senseworks and meltanolabs-target-postgres.

    .venv/bin/python benchmarks/target_load.py                 # 1,000,000 rows, 250,000 vouchers
    .venv/bin/python benchmarks/target_load.py --only singer   # the comparison, no load-sie
    .venv/bin/python benchmarks/target_load.py --rows 200000   # smaller
    .venv/bin/python benchmarks/target_load.py --backends sqlite,postgresql  # ours only
    .venv/bin/python benchmarks/target_load.py --profile postgresql  # cProfile top functions
    .venv/bin/python benchmarks/target_load.py --only sie      # `senseworks load-sie` only

The stream (benchmarks/.data/stream-ROWS.singer, written once by `generate`) holds the
contract's SCHEMA messages (with key_properties), a company, a year, ROWS/4 vouchers
each followed by its 4 rows, the year's snapshot and a STATE.  The SAME file is
replayed into each backend:

* ``sqlite``: target-senseworks into a fresh SQLite file;
* ``postgresql``: target-senseworks into PostgreSQL (database ``bench_senseworks``);
* ``meltanolabs``: meltanolabs-target-postgres 0.8.1, the issue's reference, on the
  same PostgreSQL cluster (database ``bench_meltanolabs``, recreated each run) with
  ``use_copy: true`` and its defaults otherwise (record validation on, record
  metadata columns, batches of 10,000 rows merged on the key properties).  It runs
  from its own virtual environment, benchmarks/.data/venv-target-postgres, created
  (``python -m venv`` + ``pip install meltanolabs-target-postgres==0.8.1``) when missing.

Each target runs in its own child process (``... --config CFG --input STREAM``); its
wall time and its own peak RSS (``os.wait4``) are measured, and the rows it loaded are
counted afterwards (a run that loaded the wrong number of vouchers or rows fails the
benchmark).  The table gives records/s, peak MB, the ratio of each of ours to
meltanolabs' records/s and the 1-minute load average at the end of each run (the
machine may be shared); the goal (>= 10x meltanolabs' records/s into SQLite and
PostgreSQL, < 300 MB) is judged from the measured numbers.  PostgreSQL: pass
--pg-url (its user must be allowed to create databases), or a throwaway cluster is
started from /usr/lib/postgresql/*/bin (as the `postgres` user when run as root).

Then `senseworks load-sie` of a 1,000,000-row SIE file (sie4's benchmark file, made
with benchmarks/sie4_parse.py's `generate()`): into an empty ledger, then again over
the year it just loaded (a reload replaces a million rows).  Goal: under 30 s and
300 MB each.  Each run is its own child process; its peak RSS comes from wait4.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import json
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sie4_parse import generate as generate_sie

import sie4
from target_senseworks.contract import schema_message

DATA = Path(__file__).resolve().parent / ".data"
MELTANOLABS = "meltanolabs-target-postgres"
MELTANOLABS_VERSION = "0.8.1"
MELTANOLABS_VENV = DATA / "venv-target-postgres"
BACKENDS = ("sqlite", "postgresql", "meltanolabs")
GOAL_RATIO, GOAL_MB = 10.0, 300.0
TENANT = 1234567
ACCOUNTS = ["1510", "1930", "2440", "2611", "2640", "3001", "4010", "5010", "6110", "6570"]


def generate(path: Path, rows: int, rows_per_voucher: int = 4) -> int:
    """Write one year's vouchers (rows/4) with their rows, then the snapshot."""
    vouchers = rows // rows_per_voucher
    with path.open("w") as f:
        w = f.write
        for stream in ("company_information", "financial_years", "vouchers", "voucher_rows",
                       "voucher_snapshots"):
            w(json.dumps(schema_message(stream)) + "\n")
        w(json.dumps({"type": "RECORD", "stream": "company_information", "record": {
            "tenant_id": TENANT, "organisation_number": "556677-8899",
            "company_name": "Benchmark AB"}}) + "\n")
        w(json.dumps({"type": "RECORD", "stream": "financial_years", "record": {
            "tenant_id": TENANT, "id": 3, "from_date": "2025-01-01", "to_date": "2025-12-31",
            "accounting_method": "ACCRUAL", "account_chart_type": "BAS"}}) + "\n")
        vhead = ('{"type":"RECORD","stream":"vouchers","record":{"tenant_id":%d,'
                 '"financial_year_id":3,"series":"A","number":%d,"transaction_date":'
                 '"2025-%02d-%02d","description":"Verifikation %d","comments":null,'
                 '"reference_type":"MANUAL","reference_number":"%d","approval_state":0,'
                 '"registration_date":"2025-%02d-%02d"}}\n')
        rrow = ('{"type":"RECORD","stream":"voucher_rows","record":{"tenant_id":%d,'
                '"financial_year_id":3,"series":"A","number":%d,"row_index":%d,"account":"%s",'
                '"debit":%s,"credit":%s,"amount":%s,"description":null,'
                '"transaction_information":null,"cost_center":null,"project":null,'
                '"quantity":null,"removed":%s}}\n')
        for n in range(1, vouchers + 1):
            month, day = n % 12 + 1, n % 28 + 1
            w(vhead % (TENANT, n, month, day, n, n, month, day))
            cents = 1000 + (n * 7919) % 10_000_000
            a, b = divmod(cents, 100)
            amt = f"{a}.{b:02d}"
            half_a, half_b = divmod(cents // 2, 100)
            half = f"{half_a}.{half_b:02d}"
            rest_a, rest_b = divmod(cents - cents // 2, 100)
            rest = f"{rest_a}.{rest_b:02d}"
            w(rrow % (TENANT, n, 0, ACCOUNTS[n % 10], amt, "0", amt, "false"))
            w(rrow % (TENANT, n, 1, ACCOUNTS[(n + 3) % 10], "0", half, "-" + half, "false"))
            w(rrow % (TENANT, n, 2, ACCOUNTS[(n + 5) % 10], "0", rest, "-" + rest, "false"))
            for i in range(3, rows_per_voucher):
                w(rrow % (TENANT, n, i, "1930", "0", "0", "0", "true"))
        w(json.dumps({"type": "RECORD", "stream": "voucher_snapshots", "record": {
            "tenant_id": TENANT, "financial_year_id": 3, "voucher_count": vouchers,
            "series": [{"code": "A", "ranges": [[1, vouchers]]}],
            "extracted_at": "2026-11-26T01:00:00+00:00"}}) + "\n")
        w(json.dumps({"type": "STATE", "value": {"bookmarks": {"done": True}}}) + "\n")
    return vouchers + vouchers * rows_per_voucher + 3


class Cluster:
    """A throwaway PostgreSQL for the benchmark (same approach as the test fixture)."""

    def __init__(self) -> None:
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdb:
            sys.exit("no PostgreSQL binaries: run scripts/install-postgres.sh or pass --pg-url")
        self.bindir = Path(initdb[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="senseworks-bench-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user)
            os.chmod(self.root, 0o755)

    def _run(self, *args: str) -> None:
        kw = {"user": self.user} if self.user else {}
        subprocess.run(args, check=True, capture_output=True, cwd=self.root, **kw)

    def start(self) -> str:
        data = self.root / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
                  "-w", "start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                  "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def pg_database(url: str, name: str) -> str:
    """(Re)create database `name` on `url`'s server; its URL."""
    import psycopg  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    sa_url = make_url(url).set(drivername="postgresql+psycopg")
    conninfo = sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return sa_url.set(database=name).render_as_string(hide_password=False)


def meltanolabs_exe(venv: Path = MELTANOLABS_VENV) -> Path:
    """target-postgres from its own venv, which is created (or fixed) when needed."""
    python, exe = venv / "bin" / "python", venv / "bin" / "target-postgres"
    version = f"import importlib.metadata as m; print(m.version({MELTANOLABS!r}))"
    if python.exists() and exe.exists():
        found = subprocess.run([str(python), "-c", version], check=False, capture_output=True,
                               text=True)
        if found.returncode == 0 and found.stdout.strip() == MELTANOLABS_VERSION:
            return exe
    print(f"installing {MELTANOLABS}=={MELTANOLABS_VERSION} into {venv}", file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    f"{MELTANOLABS}=={MELTANOLABS_VERSION}"], check=True)
    if not exe.exists():
        sys.exit(f"{exe} missing after installing {MELTANOLABS}")
    return exe


def senseworks_cmd(name: str) -> list[str]:
    """Our console script, or its module when the script is not installed."""
    exe = Path(sys.executable).parent / name
    module = {"target-senseworks": "target_senseworks.target",
              "senseworks": "target_senseworks.cli"}[name]
    return [str(exe)] if exe.exists() else [sys.executable, "-m", module]


def run_target(backend: str, url: str, stream: Path, exe: Path | None = None
               ) -> tuple[float, float]:
    """Replay `stream` into one backend in a child; (wall seconds, its peak RSS MB)."""
    cfg = DATA / f"bench-config-{backend}.json"
    if backend == "meltanolabs":
        assert exe is not None
        cfg.write_text(json.dumps({"sqlalchemy_url": url, "use_copy": True}))
        cmd = [str(exe)]
    else:
        cfg.write_text(json.dumps({"database_url": url}))
        cmd = senseworks_cmd("target-senseworks")
    return timed_child([*cmd, "--config", str(cfg), "--input", str(stream)],
                       log=DATA / f"bench-{backend}.log")


def loaded(backend: str, url: str) -> tuple[int, int]:
    """(vouchers, voucher rows) the backend's tables hold after its run."""
    schema = "melty." if backend == "meltanolabs" else ""
    sql = [f"SELECT count(*) FROM {schema}vouchers", f"SELECT count(*) FROM {schema}voucher_rows"]
    if backend == "sqlite":
        import sqlite3  # noqa: PLC0415

        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            v, r = (db.execute(q).fetchone()[0] for q in sql)
        return v, r
    import psycopg  # noqa: PLC0415

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        v, r = (conn.execute(q).fetchone()[0] for q in sql)  # type: ignore[index]
    return v, r


def profile(url: str, stream: Path) -> None:
    """cProfile the target in-process and print where the time goes."""
    from target_senseworks.target import TargetSenseworks  # noqa: PLC0415

    target = TargetSenseworks(config={"database_url": url})
    prof = cProfile.Profile()
    with stream.open() as f, open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            prof.runcall(target.listen, f)
        finally:
            sys.stdout = stdout
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def timed_child(cmd: list[str], log: Path | None = None) -> tuple[float, float]:
    """Run `cmd` (stderr to `log`); (wall seconds, that child's own peak RSS in MB)."""
    log = log or DATA / "bench-child.log"
    with log.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_bytes()[-3000:].decode(errors="replace")
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}), see {log}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024


def sie_file(rows: int) -> Path:
    """The sie4 benchmark's file (seed 1), written once with sie4's writer and #KSUMMA."""
    path = DATA / f"sie-{rows}.se"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            for chunk in sie4.iter_write(generate_sie(rows, 1), ksumma=True):
                f.write(chunk)
        tmp.rename(path)
        print(f"generated {path} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return path


def fresh_database(backend: str, cluster_url: str | None) -> str:
    """An empty ledger database for the SIE runs."""
    if backend == "sqlite":
        for p in DATA.glob("bench-sie.db*"):
            p.unlink()
        return f"sqlite:///{DATA / 'bench-sie.db'}"
    assert cluster_url is not None
    return pg_database(cluster_url, "bench_sie")


def bench_sie(rows: int, backends: list[str], pg_url: str | None
              ) -> list[tuple[str, str, float, float]]:
    """`senseworks load-sie` of the file: first load, then a reload over the same year."""
    path = sie_file(rows)
    cmd = senseworks_cmd("senseworks")
    results = []
    for backend in backends:
        url = fresh_database(backend, pg_url)
        for run in ("first load", "reload"):
            seconds, peak = timed_child([*cmd, "--database-url", url, "load-sie", str(path)],
                                        log=DATA / "bench-sie.log")
            results.append((backend, run, seconds, peak))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sie-rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default=",".join(BACKENDS),
                    help="comma-separated, of " + ", ".join(BACKENDS))
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--profile", choices=["sqlite", "postgresql"], default=None)
    ap.add_argument("--only", choices=["singer", "sie"], default=None)
    args = ap.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    backends = args.backends.split(",")
    if unknown := set(backends) - set(BACKENDS):
        sys.exit(f"unknown backend(s) {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    if args.profile:
        backends = [args.profile]
    ours = [b for b in backends if b != "meltanolabs"]
    if args.only == "sie":
        cluster = None
        try:
            pg_url = args.pg_url
            if "postgresql" in ours and not pg_url:
                cluster = Cluster()
                pg_url = cluster.start()
            report_sie(args.sie_rows, bench_sie(args.sie_rows, ours, pg_url))
        finally:
            if cluster:
                cluster.stop()
        return
    stream = DATA / f"stream-{args.rows}.singer"
    if not stream.exists():
        t0 = time.perf_counter()
        generate(stream, args.rows)
        print(f"generated {stream} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    records = sum(1 for line in stream.open() if line.startswith('{"type":"RECORD"')
                  or line.startswith('{"type": "RECORD"'))
    expected = (args.rows // 4, args.rows // 4 * 4)
    melt_exe = meltanolabs_exe() if "meltanolabs" in backends else None

    cluster = None
    pg_url = args.pg_url
    results: list[tuple[str, float, float, float]] = []
    try:
        if not pg_url and ("postgresql" in backends or "meltanolabs" in backends):
            cluster = Cluster()
            pg_url = cluster.start()
        for backend in backends:
            if backend == "sqlite":
                for p in DATA.glob("bench.db*"):
                    p.unlink()
                url = f"sqlite:///{DATA / 'bench.db'}"
            else:
                assert pg_url is not None
                name = "bench_meltanolabs" if backend == "meltanolabs" else "bench_senseworks"
                url = pg_database(pg_url, name)
            if args.profile == backend:
                profile(url, stream)
                continue
            print(f"{backend}: replaying {stream.name} ...", file=sys.stderr)
            seconds, peak = run_target(backend, url, stream, melt_exe)
            if backend == "meltanolabs" and "Inserting with SQL: COPY" not in (
                    DATA / "bench-meltanolabs.log").read_text(errors="replace"):
                sys.exit("meltanolabs-target-postgres did not load with COPY (use_copy ignored?)")
            if (got := loaded(backend, url)) != expected:
                sys.exit(f"{backend} loaded {got[0]:,} vouchers and {got[1]:,} rows, "
                         f"expected {expected[0]:,} and {expected[1]:,}")
            results.append((backend, seconds, peak, os.getloadavg()[0]))
        sie_results = [] if args.only == "singer" or args.profile else bench_sie(
            args.sie_rows, ours, pg_url)
    finally:
        if cluster:
            cluster.stop()

    if results:
        report_singer(stream, records, expected, results)
    if sie_results:
        report_sie(args.sie_rows, sie_results)


def report_singer(stream: Path, records: int, expected: tuple[int, int],
                  results: list[tuple[str, float, float, float]]) -> None:
    """The comparison table and the goal, judged from the measured numbers."""
    rates = {backend: records / seconds for backend, seconds, _, _ in results}
    reference = rates.get("meltanolabs")
    print(f"\n{stream.name}: {records:,} records ({expected[0]:,} vouchers, "
          f"{expected[1]:,} rows), {stream.stat().st_size / 1e6:.0f} MB; cpus {os.cpu_count()}")
    print(f"{'backend':<13}{'records':>11}{'seconds':>10}{'records/s':>12}{'peak MB':>10}"
          f"{'vs meltano':>12}{'load1':>8}")
    for backend, seconds, peak, load1 in results:
        ratio = f"{rates[backend] / reference:.1f}x" if reference else "-"
        print(f"{backend:<13}{records:>11,}{seconds:>10.1f}{rates[backend]:>12,.0f}"
              f"{peak:>10.0f}{ratio:>12}{load1:>8.2f}")
    ours = [(b, peak) for b, _, peak, _ in results if b != "meltanolabs"]
    if not ours:
        return
    print(f"goal: >= {GOAL_RATIO:.0f}x meltanolabs-target-postgres {MELTANOLABS_VERSION}'s "
          f"records/s (use_copy) into SQLite and PostgreSQL, peak < {GOAL_MB:.0f} MB")
    if reference is None:
        print("  not judged: meltanolabs was not run (add it to --backends)")
        return
    for backend, peak in ours:
        ratio = rates[backend] / reference
        print(f"  {backend}: {ratio:.1f}x ({'met' if ratio >= GOAL_RATIO else 'NOT met'}), "
              f"{peak:.0f} MB ({'met' if peak < GOAL_MB else 'NOT met'})")


def report_sie(rows: int, results: list[tuple[str, str, float, float]]) -> None:
    """The `load-sie` table."""
    path = sie_file(rows)
    print(f"\nsenseworks load-sie {path.name}: {rows:,} #TRANS rows, "
          f"{path.stat().st_size / 1e6:.1f} MB")
    print(f"{'backend':<12}{'run':<12}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for backend, run_name, seconds, peak in results:
        print(f"{backend:<12}{run_name:<12}{seconds:>10.1f}{rows / seconds:>12,.0f}{peak:>10.0f}")
    worst_s = max(s for _, _, s, _ in results)
    worst_mb = max(m for _, _, _, m in results)
    print(f"goal: < 30 s ({'met' if worst_s < 30 else 'NOT met'}: worst {worst_s:.1f} s) and "
          f"< 300 MB ({'met' if worst_mb < 300 else 'NOT met'}: worst {worst_mb:.0f} MB)")


if __name__ == "__main__":
    main()
