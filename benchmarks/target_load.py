"""Benchmark: replay a generated Singer stream into target-senseworks (SQLite, PostgreSQL).

    .venv/bin/python benchmarks/target_load.py                 # 1,000,000 rows, 250,000 vouchers
    .venv/bin/python benchmarks/target_load.py --rows 200000   # smaller
    .venv/bin/python benchmarks/target_load.py --profile sqlite  # cProfile top functions
    .venv/bin/python benchmarks/target_load.py --only sie      # `senseworks load-sie` only

Then `senseworks load-sie` of a 1,000,000-row SIE file (sie4's benchmark file, made
with benchmarks/sie4_parse.py's `generate()`): into an empty ledger, then again over
the year it just loaded (a reload replaces a million rows).  Goal: under 30 s and
300 MB each.  Each run is its own child process; its peak RSS comes from wait4.

Each backend runs in its own process (`target-senseworks --input FILE`), so peak RSS is
that process's alone.  PostgreSQL: pass --pg-url, or a throwaway cluster is started
from /usr/lib/postgresql/*/bin (as the `postgres` user when run as root).

Not yet here: the same stream into meltanolabs-target-postgres 0.8.1 in its own venv
(the issue's reference, about 2,600 records/s on this kind of machine).
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import json
import os
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sie4_parse import generate as generate_sie

import sie4
from target_senseworks.contract import schema_message

DATA = Path(__file__).resolve().parent / ".data"
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


def run(url: str, stream: Path) -> tuple[float, float]:
    """Run the target CLI in a child; returns (seconds, peak RSS MB of the child)."""
    cfg = stream.parent / "bench-config.json"
    cfg.write_text(json.dumps({"database_url": url}))
    exe = Path(sys.executable).parent / "target-senseworks"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "target_senseworks.target"]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "--config", str(cfg), "--input", str(stream)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024  # the largest child so far: this one, as it runs first


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


def timed_child(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd`; (wall seconds, that child's own peak RSS in MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
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
    import psycopg  # noqa: PLC0415

    assert cluster_url is not None
    conninfo = cluster_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_sie")
        conn.execute("CREATE DATABASE bench_sie")
    return cluster_url.rsplit("/", 1)[0] + "/bench_sie"


def bench_sie(rows: int, backends: list[str], pg_url: str | None
              ) -> list[tuple[str, str, float, float]]:
    """`senseworks load-sie` of the file: first load, then a reload over the same year."""
    path = sie_file(rows)
    exe = Path(sys.executable).parent / "senseworks"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "target_senseworks.cli"]
    results = []
    for backend in backends:
        url = fresh_database(backend, pg_url)
        for run in ("first load", "reload"):
            seconds, peak = timed_child([*cmd, "--database-url", url, "load-sie", str(path)])
            results.append((backend, run, seconds, peak))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sie-rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--profile", choices=["sqlite", "postgresql"], default=None)
    ap.add_argument("--only", choices=["singer", "sie"], default=None)
    args = ap.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    backends = args.backends.split(",")
    if args.only == "sie":
        cluster = None
        try:
            pg_url = args.pg_url
            if "postgresql" in backends and not pg_url:
                cluster = Cluster()
                pg_url = cluster.start()
            report_sie(args.sie_rows, bench_sie(args.sie_rows, backends, pg_url))
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

    cluster = None
    pg_url = args.pg_url
    results = []
    try:
        for backend in backends:
            if backend == "sqlite":
                db = DATA / "bench.db"
                for p in DATA.glob("bench.db*"):
                    p.unlink()
                url = f"sqlite:///{db}"
            elif args.pg_url:
                url = args.pg_url
            else:
                cluster = Cluster()
                url = pg_url = cluster.start()
            if args.profile == backend:
                profile(url, stream)
                continue
            seconds, peak = run(url, stream)
            results.append((backend, records, seconds, records / seconds, peak))
        sie_results = [] if args.only == "singer" or args.profile else bench_sie(
            args.sie_rows, backends, pg_url)
    finally:
        if cluster:
            cluster.stop()

    print(f"\n{'backend':<12}{'records':>10}{'seconds':>10}{'records/s':>12}{'peak MB':>10}")
    for backend, n, s, rate, peak in results:
        print(f"{backend:<12}{n:>10,}{s:>10.1f}{rate:>12,.0f}{peak:>10.0f}")
    print("\ngoal: >= 26,000 records/s (10x meltanolabs-target-postgres' ~2,600) and < 300 MB."
          "\nmeltanolabs-target-postgres comparison: not run yet (needs its own venv).")
    if sie_results:
        report_sie(args.sie_rows, sie_results)


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
