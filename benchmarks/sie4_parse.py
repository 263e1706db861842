"""Benchmark: parse + validate a 1,000,000-row SIE-4 file against a read-and-split baseline.

    .venv/bin/python benchmarks/sie4_parse.py [--rows 1000000] [--seed 1]

Generates a deterministic file (written with `sie4.write`, so it is valid SIE),
then runs each measurement in a fresh process so that peak memory (max RSS) is
its own, alternating baseline and parser runs so that both meet the same load
from whatever else the machine is doing.  Wall time is the measure; CPU time
is shown beside it because it varies less on a busy machine.  The baseline
reads the file, decodes it as CP437, splits it into lines and each line into
fields: the least any SIE reader must do.  Goal: parse + validate within 4x
the baseline's time, peak memory under 150 MB.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sie4
from sie4 import records as r
from sie4.files import validate_file

ACCOUNTS = ["1510", "1910", "1930", "2440", "2611", "2641", "3001", "4010", "5010", "6110",
            "6212", "6570", "7010", "7510", "8410"]
TEXTS = ["", "", "", "Kontorsmaterial", "Hyra lokal", "Faktura 10023", "Lön januari",
         "Räntekostnad", 'Kund "Åbergs" AB']


def generate(rows: int, seed: int):
    """Records of one financial year with `rows` booked rows in 2-8-row vouchers."""
    rnd = random.Random(seed)
    start = date(2025, 1, 1)
    yield r.Flag(0)
    yield r.Program("sie4-benchmark", "1")
    yield r.Format("PC8")
    yield r.Generated(date(2026, 1, 15))
    yield r.SieType(4)
    yield r.CompanyName("Benchmark Åkeri AB")
    yield r.OrgNumber("556677-8899")
    yield r.FinancialYear(0, start, date(2025, 12, 31))
    for account in ACCOUNTS:
        yield r.Account(account, f"Konto {account}")
    for account in ACCOUNTS[:6]:
        yield r.OpeningBalance(0, account, Decimal(0))
    done = 0
    number = 0
    while done < rows:
        number += 1
        n = min(rnd.randint(2, 8), rows - done) if rows - done >= 2 else 2
        day = start + timedelta(days=rnd.randrange(365))
        amounts = [Decimal(rnd.randrange(1, 10_000_000)) / 100 for _ in range(n - 1)]
        amounts.append(-sum(amounts))
        voucher_rows = []
        for amount in amounts:
            objects = (("1", str(rnd.randrange(100, 120))),) if rnd.random() < 0.2 else ()
            voucher_rows.append(r.VoucherRow(
                r.RowKind.BOOKED, rnd.choice(ACCOUNTS), objects, amount,
                day if rnd.random() < 0.5 else None, rnd.choice(TEXTS),
                Decimal(rnd.randrange(1, 40)) if rnd.random() < 0.1 else None,
            ))
        yield r.Voucher("A", str(number), day, rnd.choice(TEXTS), rows=tuple(voucher_rows))
        done += n


def baseline(path: str) -> None:
    data = Path(path).read_bytes().decode("cp437")
    fields = 0
    for line in data.splitlines():
        fields += len(line.split())


def parse_validate(path: str) -> None:
    validate_file(path)


def measure(kind: str, path: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one measurement in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--measure", kind, path], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        kind, path = args.measure
        t, cpu = time.perf_counter(), time.process_time()
        {"baseline": baseline, "parse+validate": parse_validate}[kind](path)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        print(wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.se")
        t = time.perf_counter()
        with open(path, "wb") as f:
            for chunk in sie4.iter_write(generate(args.rows, args.seed), ksumma=False):
                f.write(chunk)
        gen = time.perf_counter() - t
        size_mb = Path(path).stat().st_size / 1e6
        print(f"generated {args.rows:,} #TRANS rows, {size_mb:.1f} MB, in {gen:.1f} s "
              f"(sie4.iter_write)\n")
        kinds = ("baseline", "parse+validate")
        runs: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind in kinds}
        for _ in range(args.repeat):
            for kind in kinds:
                runs[kind].append(measure(kind, path))
        results = {
            kind: (min(w for w, _, _ in rs), min(c for _, c, _ in rs), max(m for _, _, m in rs))
            for kind, rs in runs.items()
        }
        base, base_cpu, _ = results["baseline"]
        print(f"| {'measurement':<16} | {'best of ' + str(args.repeat) + ' (s)':>14} | "
              f"{'MB/s':>7} | {'peak RSS (MB)':>13} | {'x baseline':>10} | {'CPU (s)':>7} | {'x CPU':>5} |")
        print(f"|{'-' * 18}|{'-' * 16}|{'-' * 9}|{'-' * 15}|{'-' * 12}|{'-' * 9}|{'-' * 7}|")
        for kind, (wall, cpu, rss) in results.items():
            print(f"| {kind:<16} | {wall:>14.2f} | {size_mb / wall:>7.1f} | {rss:>13.0f} | "
                  f"{wall / base:>10.2f} | {cpu:>7.2f} | {cpu / base_cpu:>5.2f} |")
        ratio = results["parse+validate"][0] / base
        rss = results["parse+validate"][2]
        print(f"\ngoal: parse+validate <= 4x baseline ({'met' if ratio <= 4 else 'NOT met'}: "
              f"{ratio:.2f}x), peak memory < 150 MB ({'met' if rss < 150 else 'NOT met'}: {rss:.0f} MB)")


if __name__ == "__main__":
    main()
