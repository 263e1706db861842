"""Reliability campaign: faults, kills and the token chain, with figures.

    .venv/bin/python benchmarks/reliability.py [--kills 20] [--hostile 5] [--refreshes 1000]

Against a time-scaled sandbox (same 25-per-window shape, 10x faster), a clean run of
tap-fortnox | target-senseworks gives the reference ledger digest. Then:
- kills: each run is SIGKILLed (tap, target or both, seeded) at a random point of a
  sync, then resumed with the state the target had committed; the ledger must equal
  the clean one: no lost voucher row, no duplicate, same digest;
- hostile: each pipeline runs under the sandbox's "hostile" profile (10% 5xx, 429
  bursts, 1% resets, slow answers, tokens expiring every 100 requests, one broken SIE
  export per run) until a run succeeds;
- token chain: refresh-token runs, each forced to refresh, must never break the chain.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.pipeline

from sqlalchemy import create_engine

from fortnox_sandbox.testing import running_sandbox
from tap_fortnox.tap import TapFortnox
from target_senseworks.ledger.digest import ledger_digest, ledger_rows
from tests.e2e.conftest import ROOT as MELTANO_ROOT
from tests.e2e.conftest import _ensure_meltano
from tests.pipeline import Pipeline

SCALE = 10.0


def kills(sb, root: Path, clean: Pipeline, n: int, seed: int) -> dict:
    rnd = random.Random(seed)
    out = {"runs": 0, "kills": 0, "equal": 0, "lost": 0, "duplicated": 0, "failed": 0}
    span = max(clean.last_seconds, 1.0)
    for i in range(n):
        who = rnd.choice(["tap", "target", "both"])
        at = rnd.uniform(0.05, span)
        pipeline = Pipeline(sb, root / f"kill-{i}", sb.tenant_ids[0], rate_limit_window=5 / SCALE)
        result = pipeline.run(kill=(who, at))
        out["runs"] += 1
        out["kills"] += result.killed is not None
        for _ in range(3):
            result = pipeline.run()
            out["runs"] += 1
            if result.ok:
                break
        out["failed"] += not result.ok
        out["equal"] += pipeline.digest() == clean.digest()
        out["lost"] += sum((clean.rows() - pipeline.rows()).values())
        out["duplicated"] += sum((pipeline.rows() - clean.rows()).values())
    return out


def hostile(sb, root: Path, clean: Pipeline, n: int) -> dict:
    out = {"runs": 0, "faults": 0, "equal": 0, "lost": 0, "duplicated": 0, "failed": 0}
    for i in range(n):
        pipeline = Pipeline(sb, root / f"hostile-{i}", sb.tenant_ids[0], rate_limit_window=5 / SCALE)
        for _ in range(6):
            sb.set_faults("hostile")
            result = pipeline.run()
            out["runs"] += 1
            out["faults"] += sum(rule["fired"] for rule in sb.state.faults.describe())
            if result.ok:
                break
        sb.set_faults(None)
        out["failed"] += not result.ok
        out["equal"] += pipeline.digest() == clean.digest()
        out["lost"] += sum((clean.rows() - pipeline.rows()).values())
        out["duplicated"] += sum((pipeline.rows() - clean.rows()).values())
    return out


def token_chain(n: int, root: Path) -> dict:
    out = {"runs": 0, "refreshes": 0, "breaks": 0}
    with running_sandbox(seed=5, profile="tiny", companies=1, years=1, vouchers_per_year=5,
                         time_scale=SCALE) as sb:
        tenant = sb.tenant_ids[0]
        config = {"api_url": sb.api_url, "auth_url": sb.auth_url, "client_id": sb.client_id,
                  "client_secret": sb.client_secret, "refresh_token": sb.issue_refresh_token(tenant),
                  "token_store_path": str(root / "tokens.json"), "rate_limit_window": 5 / SCALE,
                  }
        for _ in range(n):
            sb.expire_tokens()  # every run must refresh
            tap = TapFortnox(config=config, parse_env_config=False)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    tap.connection.get_json("/3/companyinformation")
                out["refreshes"] += tap.connection.auth.refreshes
            except Exception:
                out["breaks"] += 1
            finally:
                tap._close_connection()
            out["runs"] += 1
        if n:
            json.loads((root / "tokens.json").read_text())  # the store is intact at the end
    return out


def meltano_kills(n: int, seed: int, root: Path) -> dict:
    """SIGKILL of `meltano run` (its whole process group) mid-sync, then `meltano run --force`."""
    meltano = str(_ensure_meltano())
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
           "MELTANO_CLI_DISABLE_VERSION_CHECK": "true", "MELTANO_SYS_DIR_ROOT": str(root / "msys"),
           "TAP_FORTNOX_INCLUDE_ATTACHMENT_CONTENT": "false"}  # keep each run to seconds
    subprocess.run([meltano, "install"], cwd=MELTANO_ROOT, env=env, check=True, capture_output=True)
    out = {"runs": 0, "kills": 0, "equal": 0, "lost": 0, "duplicated": 0, "failed": 0}
    rnd = random.Random(seed)
    # The dev environment's tenant (7212532) exists in every seed-1 sandbox.
    with running_sandbox(seed=1, profile="tiny", companies=1, years=2, vouchers_per_year=400) as sb:
        env.update(TAP_FORTNOX_API_URL=sb.api_url, TAP_FORTNOX_AUTH_URL=sb.auth_url)

        def run(name: str, *args: str, kill_at: float | None = None) -> tuple[int, float]:
            run_env = {**env, "MELTANO_DATABASE_URI": f"sqlite:///{root / name}-meltano.db",
                       "TARGET_SENSEWORKS_DATABASE_URL": f"sqlite:///{root / name}-ledger.db"}
            started = time.monotonic()
            proc = subprocess.Popen([meltano, "run", *args, "tap-fortnox", "target-senseworks"],
                                    cwd=MELTANO_ROOT, env=run_env, start_new_session=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if kill_at is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(kill_at)
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    out["kills"] += 1
            return proc.wait(600), time.monotonic() - started

        rc, span = run("clean")
        assert rc == 0, "the clean meltano run failed"
        clean = create_engine(f"sqlite:///{root / 'clean'}-ledger.db")
        clean_digest, clean_rows = ledger_digest(clean), _rows(clean)
        for i in range(n):
            name = f"mkill-{i}"
            run(name, kill_at=rnd.uniform(1.0, span))
            out["runs"] += 1
            rc = 1
            for _ in range(3):
                rc, _ = run(name, "--force")
                out["runs"] += 1
                if rc == 0:
                    break
            out["failed"] += rc != 0
            engine = create_engine(f"sqlite:///{root / name}-ledger.db")
            out["equal"] += ledger_digest(engine) == clean_digest
            rows = _rows(engine)
            out["lost"] += sum((clean_rows - rows).values())
            out["duplicated"] += sum((rows - clean_rows).values())
    return out


def _rows(engine) -> Counter:
    return Counter(values for table, values in ledger_rows(engine) if table == "voucher_rows")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--hostile", type=int, default=5)
    p.add_argument("--refreshes", type=int, default=1000)
    p.add_argument("--meltano-kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--vouchers", type=int, default=1500, help="vouchers per year (2 years)")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="reliability-"))
    with running_sandbox(seed=args.seed, profile="tiny", companies=1, years=2,
                         vouchers_per_year=args.vouchers, time_scale=SCALE) as sb:
        clean = Pipeline(sb, root / "clean", sb.tenant_ids[0], rate_limit_window=5 / SCALE)
        first = clean.run()
        assert first.ok, clean.stderr()[-3000:]
        clean.last_seconds = first.seconds
        k = kills(sb, root, clean, args.kills, args.seed)
        h = hostile(sb, root, clean, args.hostile)
        rows = sum(clean.rows().values())
    t = token_chain(args.refreshes, root)
    m = meltano_kills(args.meltano_kills, args.seed, root) if args.meltano_kills else None
    print(f"Clean run: {rows} voucher rows in {first.seconds:.1f} s; ledger digest {clean.digest()[:16]}\n")
    print("| campaign | pipelines | runs | faults injected | kills | failed at the end | "
          "digest equal | rows lost | rows duplicated |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| SIGKILL at seeded random points | {args.kills} | {k['runs']} | - | {k['kills']} | "
          f"{k['failed']} | {k['equal']}/{args.kills} | {k['lost']} | {k['duplicated']} |")
    print(f"| hostile profile | {args.hostile} | {h['runs']} | {h['faults']} | - | {h['failed']} | "
          f"{h['equal']}/{args.hostile} | {h['lost']} | {h['duplicated']} |")
    if m is not None:
        print(f"| SIGKILL of meltano run, then --force | {args.meltano_kills} | {m['runs']} | - | "
              f"{m['kills']} | {m['failed']} | {m['equal']}/{args.meltano_kills} | {m['lost']} | "
              f"{m['duplicated']} |")
    print(f"\nToken chain: {t['runs']} runs, {t['refreshes']} refreshes, {t['breaks']} breaks.")


if __name__ == "__main__":
    main()
