"""`sie4 validate FILE [--json]`: check a SIE file and say what is in it.

Exit codes: 0 no error-level findings, 1 error-level findings, 2 the file cannot
be parsed (or read) at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import SieError
from .files import validate_file
from .findings import Severity
from .validate import Report

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2


def _summary(path: str, report: Report) -> str:
    data = report.as_dict()
    company = data["company"]
    lines = [
        f"{path}",
        f"  program:   {data['program'] or '-'}",
        f"  company:   {company['name'] or '-'} ({company['orgnr'] or 'no org. number'})",  # type: ignore[index]
    ]
    for year in data["years"]:  # type: ignore[attr-defined]
        lines.append(f"  year {year['index']:>3}:  {year['start']} .. {year['end']}")
    history = data["history_rows"]
    lines += [
        f"  vouchers:  {report.vouchers}, booked rows {report.booked_rows}, "
        f"history rows: {history['added']} added, {history['removed']} removed",  # type: ignore[index]
        f"  #KSUMMA:   {report.ksumma}",
        f"  encoding:  {report.encoding}",
    ]
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    lines.append(
        f"  findings:  {counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} note(s)"
    )
    for finding in sorted(report.findings, key=lambda f: f.line):
        lines.append(f"  {path}:{finding.line}: {finding.severity.value}: "
                     f"[{finding.code}] {finding.message}")
    return "\n".join(lines)


def validate(args: argparse.Namespace) -> int:
    try:
        report = validate_file(args.file, kind=args.kind)
    except SieError as e:
        if args.json:
            print(json.dumps({"file": args.file, "error": str(e), "line": e.line}))
        else:
            print(f"{e}", file=sys.stderr)
        return EXIT_UNREADABLE
    except OSError as e:
        print(f"{args.file}: cannot read: {e.strerror}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(_summary(args.file, report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sie4", description="Check SIE-4 files.")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="parse and check a SIE-4 file")
    v.add_argument("file")
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.add_argument("--kind", choices=["4E", "4I"],
                   help="what the file should be (default: from the name, .si = 4I, .se = 4E)")
    v.set_defaults(run=validate)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
