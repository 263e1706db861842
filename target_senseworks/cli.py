"""`senseworks`: load SIE files, export SIE, and look at the ledger (status, verify).

    senseworks load-sie FILE [--company ORGNR] [--dry-run] [--accept-findings]
    senseworks export-sie --company ORGNR --year START_DATE -o FILE
    senseworks status [--json]
    senseworks verify [--company ORGNR] [--year START_DATE] [--json]

The database is `--database-url`, else `SENSEWORKS_DATABASE_URL`, else the
target's default (sqlite:///senseworks.db).  Every line printed goes through
`mask_secrets`: a password in the URL or in a driver's error never shows.

Exit codes: 0 done; 1 refused, failed, or (verify) an error-level finding;
2 unusable input (a file that is not readable SIE, bad arguments).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .ledger.db import DEFAULT_DATABASE_URL, make_engine, mask_secrets, safe_url
from .ledger.migrations import migrate
from .ledger.scope import ScopeError, years_in_scope
from .ledger.sie_export import ExportError, export_sie
from .ledger.sie_load import load_sie_file
from .ledger.status import year_status
from .ledger.verify import verify_years
from .progress import Progress
from .render import load_text, status_json, status_text, verify_json, verify_text

ENV_URL = "SENSEWORKS_DATABASE_URL"


class _Out:
    """Printing with secrets masked."""

    def __init__(self, url: str, out: TextIO, err: TextIO) -> None:
        self.url = url
        self.out = out
        self.err = err

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            print(mask_secrets(line, self.url), file=self.out)

    def json(self, value: Any) -> None:
        print(mask_secrets(json.dumps(value, indent=2, ensure_ascii=False, default=str),
                           self.url), file=self.out)

    def error(self, message: str) -> None:
        print(mask_secrets(f"senseworks: {message}", self.url), file=self.err)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line; `--database-url` is accepted before or after the command."""
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database-url", default=argparse.SUPPRESS, metavar="URL",
                    help=f"ledger database (default: ${ENV_URL} or {DEFAULT_DATABASE_URL})")
    parser = argparse.ArgumentParser(
        prog="senseworks", parents=[db],
        description="Load SIE-4 files into the Senseworks ledger, export them, and check "
                    "what is loaded.",
        epilog="Exit codes: 0 done, 1 refused/failed/error-level findings, 2 unusable input.")
    sub = parser.add_subparsers(dest="command", required=True)

    load = sub.add_parser(
        "load-sie", parents=[db], help="load an SIE-4 file's financial year",
        description="Validate FILE with sie4 and load its financial year (#RAR 0) in one "
                    "transaction; the year's ledger source becomes 'sie'. The company is "
                    "found by #ORGNR (created from #FNAMN/#ORGNR if new) unless --company "
                    "names it; error-level findings refuse the load unless --accept-findings.")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--company", metavar="ORGNR",
                      help="load into this company, even if the file's #ORGNR differs or is "
                           "missing")
    load.add_argument("--dry-run", action="store_true",
                      help="do everything but commit: show what would happen")
    load.add_argument("--accept-findings", action="store_true",
                      help="load despite error-level findings (they are recorded)")

    export = sub.add_parser("export-sie", parents=[db], help="write a year as SIE 4E",
                            description="Write one financial year's ledger as SIE 4E with "
                                        "#KSUMMA; loading it back gives the same ledger.")
    export.add_argument("--company", required=True, metavar="ORGNR")
    export.add_argument("--year", required=True, type=_date, metavar="START_DATE")
    export.add_argument("-o", "--output", required=True, type=Path, metavar="FILE")

    status = sub.add_parser("status", parents=[db], help="what is loaded, per company and year")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    verify = sub.add_parser("verify", parents=[db], help="check that the books hold together",
                            description="Vouchers balance; opening + booked = closing per "
                                        "balance account; results = booked per P&L account; "
                                        "last year's closing = this year's opening; documents "
                                        "find their voucher. Exit 1 on an error-level finding.")
    verify.add_argument("--company", metavar="ORGNR")
    verify.add_argument("--year", type=_date, metavar="START_DATE")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; returns the exit code (the console script exits with it)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return int(exc.code or 0)
    url = getattr(args, "database_url", None) or os.environ.get(ENV_URL) or DEFAULT_DATABASE_URL
    io = _Out(url, out, err)
    try:
        engine = make_engine(url, writer=args.command == "load-sie")
    except Exception as exc:
        io.error(f"cannot use database {safe_url(url)}: {exc}")
        return 2
    try:
        return COMMANDS[args.command](args, engine, io)
    except ScopeError as exc:
        io.error(str(exc))
        return 1
    except KeyboardInterrupt:
        io.error("interrupted; nothing was committed")
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to say
        return 1
    except Exception as exc:
        io.error(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        engine.dispose()


def _load_sie(args: argparse.Namespace, engine: Any, io: _Out) -> int:
    path: Path = args.file
    if not path.exists() or path.is_dir():  # a named pipe is fine: the file is read once
        io.error(f"{path}: no such file")
        return 2
    progress = Progress(path.stat().st_size, path.name, stream=io.err)
    try:
        result = load_sie_file(engine, path, company=args.company, dry_run=args.dry_run,
                               accept_findings=args.accept_findings, progress=progress)
    finally:
        progress.close()
    io.lines(load_text(result))
    if result.outcome in ("refused", "unreadable", "failed"):
        verb = {"refused": "refused", "unreadable": "cannot read the file",
                "failed": "load failed"}[result.outcome]
        io.error(f"{verb}: {result.message}" + (
            "; the ledger is unchanged" + (f" (load {result.load_id} records it)"
                                          if result.load_id else "")))
    return result.exit_code


def _export_sie(args: argparse.Namespace, engine: Any, io: _Out) -> int:
    try:
        result = export_sie(engine, args.company, args.year, args.output)
    except ExportError as exc:
        io.error(f"export failed, no file written: {exc}")
        return 1
    io.lines([f"wrote {result.path}: {result.year.label}, {result.vouchers} vouchers, "
              f"{result.rows} rows, {result.bytes} bytes (SIE 4E, CP437, #KSUMMA)"])
    return 0


def _status(args: argparse.Namespace, engine: Any, io: _Out) -> int:
    migrate(engine)
    with engine.connect() as conn:
        statuses = year_status(conn, years_in_scope(conn))
    if args.json:
        io.json(status_json(statuses, safe_url(io.url)))
    else:
        io.lines([f"ledger: {safe_url(io.url)}", *status_text(statuses)])
    return 0


def _verify(args: argparse.Namespace, engine: Any, io: _Out) -> int:
    migrate(engine)
    with engine.connect() as conn:
        years = years_in_scope(conn, args.company, args.year)
        findings = verify_years(conn, years)
    if args.json:
        io.json(verify_json(years, findings, safe_url(io.url)))
    else:
        io.lines(verify_text(years, findings))
    return 1 if any(f.severity == "error" for f in findings) else 0


COMMANDS = {"load-sie": _load_sie, "export-sie": _export_sie, "status": _status,
            "verify": _verify}


if __name__ == "__main__":
    sys.exit(main())
