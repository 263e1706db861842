"""Run tap-fortnox | target-senseworks as real processes, the way Meltano does, and kill them.

The target's state lines are saved as they come (Meltano keeps the last one the
target emitted, even for a failed run) and handed to the next run's tap with
`--state`: a resumed run really resumes. `run(kill=...)` sends SIGKILL to the tap, the target, or both after a
delay. Used by the reliability tests and by benchmarks/reliability.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from fortnox_sandbox.testing import Sandbox
from target_senseworks.ledger.digest import ledger_digest, ledger_rows

BIN = Path(sys.executable).parent


@dataclass
class RunResult:
    tap_rc: int | None
    target_rc: int | None
    killed: str | None
    seconds: float
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.tap_rc == 0 and self.target_rc == 0


@dataclass
class Pipeline:
    """One company's pipeline into one SQLite ledger, with its own saved state."""

    sandbox: Sandbox
    workdir: Path
    tenant: int
    rate_limit_window: float = 5.0
    tap_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.states_saved = 0
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ledger_url = f"sqlite:///{self.workdir / 'ledger.db'}"
        self.state_file = self.workdir / "state.json"
        (self.workdir / "tap.json").write_text(json.dumps({
            "api_url": self.sandbox.api_url, "auth_url": self.sandbox.auth_url,
            "client_id": self.sandbox.client_id, "client_secret": self.sandbox.client_secret,
            "tenant_id": str(self.tenant), "rate_limit_window": self.rate_limit_window,
            "max_retries": 10, **self.tap_extra}))
        (self.workdir / "target.json").write_text(json.dumps({"database_url": self.ledger_url}))

    def run(self, kill: tuple[str, float] | None = None, timeout: float = 300) -> RunResult:
        """One run; `kill=("tap"|"target"|"both", seconds)` SIGKILLs mid-run."""
        tap_cmd = [str(BIN / "tap-fortnox"), "--config", str(self.workdir / "tap.json")]
        if self.state_file.exists():
            tap_cmd += ["--state", str(self.state_file)]
        errors = open(self.workdir / "stderr.log", "ab")  # noqa: SIM115 - closed below
        started = time.monotonic()
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=errors)
        target = subprocess.Popen([str(BIN / "target-senseworks"), "--config",
                                   str(self.workdir / "target.json")],
                                  stdin=tap.stdout, stdout=subprocess.PIPE, stderr=errors)
        assert tap.stdout is not None
        tap.stdout.close()  # the target owns the pipe now: a dead target stops the tap
        reader = threading.Thread(target=self._save_states, args=(target,), daemon=True)
        reader.start()
        killed = None
        if kill is not None:
            who, delay = kill
            deadline = started + delay
            while time.monotonic() < deadline and (tap.poll() is None or target.poll() is None):
                time.sleep(0.01)
            for name, proc in (("tap", tap), ("target", target)):
                if who in (name, "both") and proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = name if killed is None else "both"
        try:
            tap_rc = tap.wait(timeout)
            target_rc = target.wait(timeout)
        finally:
            for proc in (tap, target):
                if proc.poll() is None:
                    proc.kill()
            reader.join(5)
            errors.close()
        return RunResult(tap_rc, target_rc, killed, time.monotonic() - started)

    def _save_states(self, target: subprocess.Popen[bytes]) -> None:
        """Keep the last state the target emitted: each line on its stdout is the whole state."""
        assert target.stdout is not None
        for line in target.stdout:
            try:
                state = json.loads(line)
            except ValueError:
                continue
            if isinstance(state, dict):
                tmp = self.state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(state))
                tmp.replace(self.state_file)
                self.states_saved += 1

    def converge(self, tries: int = 3) -> RunResult:
        """Run until a run succeeds (a resumed run after a kill should need one)."""
        result = self.run()
        for _ in range(tries - 1):
            if result.ok:
                break
            result = self.run()
        return result

    def digest(self) -> str:
        return ledger_digest(create_engine(self.ledger_url))

    def rows(self) -> Counter[tuple[Any, ...]]:
        """The ledger's voucher rows as a multiset, to count lost and duplicated rows."""
        return Counter(values for table, values in ledger_rows(create_engine(self.ledger_url))
                       if table == "voucher_rows")

    def stderr(self) -> str:
        path = self.workdir / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""
