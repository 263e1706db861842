"""Fuzz campaign: coverage-guided fuzzing (atheris) of the sie4 parser and validator.

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python benchmarks/fuzz_sie4.py [--seconds 600]

Seeds are the real sample exports and the malformed corpus. Any exception other
than SieError, or an input slower than --timeout seconds, is a finding: the input
is written to benchmarks/.data/fuzz-crashes/ and the run reports it. At the end a
table gives executions, time, findings and peak memory.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRASHES = ROOT / "benchmarks" / ".data" / "fuzz-crashes"


def seeds() -> list[Path]:
    samples = Path(os.environ.get("SIE_SAMPLES_DIR", ROOT.parent / "shared" / "data" / "sie-samples"))
    return sorted(samples.glob("*.[sS][eEiI]")) + sorted((ROOT / "tests" / "sie4" / "malformed").glob("*.se"))


def fuzz(seconds: int, timeout: int, corpus: Path) -> None:
    """The child process: atheris owns it and ends it (Fuzz() never returns)."""
    import atheris  # noqa: PLC0415 - only this script needs it

    with atheris.instrument_imports():
        import sie4  # noqa: PLC0415
        from sie4.document import validate_chunks  # noqa: PLC0415

    def one_input(data: bytes) -> None:
        try:
            validate_chunks([data])
        except sie4.SieError:
            return

    CRASHES.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={seconds}", f"-timeout={timeout}",
                   "-rss_limit_mb=2048", f"-artifact_prefix={CRASHES}/", "-print_final_stats=1"],
                  one_input)
    atheris.Fuzz()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        fuzz(args.seconds, args.timeout, Path(args.child))
        return
    try:
        import atheris  # noqa: F401, PLC0415
    except ImportError:
        sys.exit("atheris is not installed: .venv/bin/pip install -e '.[fuzz]'")
    corpus = Path(tempfile.mkdtemp(prefix="sie4-fuzz-"))
    for seed in seeds():
        (corpus / seed.name).write_bytes(seed.read_bytes()[:64_000])
    before = set(CRASHES.glob("*")) if CRASHES.exists() else set()
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--timeout",
                           str(args.timeout), "--child", str(corpus)], capture_output=True, text=True,
                          check=False)
    elapsed = time.monotonic() - started
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", done.stderr))
    found = sorted(set(CRASHES.glob("*")) - before) if CRASHES.exists() else []
    print(done.stderr[-1500:] if found or done.returncode else "")
    print("| fuzzer | seconds | executions | exec/s | corpus added | findings | peak RSS (MB) |")
    print("|--------|---------|------------|--------|--------------|----------|---------------|")
    print(f"| atheris (parse + validate) | {elapsed:.0f} | {stats.get('number_of_executed_units', '?')} | "
          f"{stats.get('average_exec_per_sec', '?')} | {stats.get('new_units_added', '?')} | "
          f"{len(found)} | {stats.get('peak_rss_mb', '?')} |")
    for path in found:
        print(f"finding: {path}")
    sys.exit(1 if found or done.returncode else 0)


if __name__ == "__main__":
    main()
