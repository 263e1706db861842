"""Text and JSON views of what the `senseworks` commands found; no database access here."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sie4

from .ledger.scope import YearRef
from .ledger.sie_load import SieLoadResult
from .ledger.status import YearStatus
from .ledger.verify import VerifyFinding

#: Findings printed per severity; every one is in the load's record anyway.
SHOWN_FINDINGS = 50


def findings_text(findings: list[sie4.Finding]) -> list[str]:
    """Errors, then warnings, then notes, each with its line; long lists are cut short."""
    if not findings:
        return []
    counts = Counter(f.severity for f in findings)
    lines = [f"findings: {counts[sie4.Severity.ERROR]} error(s), "
             f"{counts[sie4.Severity.WARNING]} warning(s), {counts[sie4.Severity.INFO]} note(s)"]
    for severity in (sie4.Severity.ERROR, sie4.Severity.WARNING, sie4.Severity.INFO):
        chosen = [f for f in findings if f.severity is severity]
        for f in chosen[:SHOWN_FINDINGS]:
            where = f"line {f.line}" if f.line else "file"
            lines.append(f"  {where}: {severity.value} {f.code}: {f.message}")
        if len(chosen) > SHOWN_FINDINGS:
            lines.append(f"  ... and {len(chosen) - SHOWN_FINDINGS} more {severity.value}(s)"
                         " (all are recorded with the load)")
    return lines


def load_text(result: SieLoadResult) -> list[str]:
    """The outcome of `load-sie` for a person."""
    lines = findings_text(result.findings)
    c = result.counts
    who = ""
    if result.company is not None:
        who = f"{result.company.name or '(no name)'} ({result.company.organisation_number})"
    year = f"{result.year[0]}..{result.year[1]}" if result.year else "?"
    if result.outcome in ("loaded", "dry_run") and not result.would_refuse:
        verb = "loaded" if result.outcome == "loaded" else "dry run, nothing written: would load"
        was = c.get("previous_source") or "none"
        made = [x for x in ("company_created", "year_created") if c.get(x)]
        lines.append(f"{verb} {result.file} into {who}, financial year {year}; ledger source "
                     f"sie (was: {was})" + (f"; {' and '.join(m.split('_')[0] for m in made)}"
                                           " created" if made else ""))
        lines.append(f"  {c.get('vouchers', 0)} vouchers, {c.get('booked_rows', 0)} booked rows,"
                     f" {c.get('struck_rows', 0)} struck rows ({c.get('history_rows', 0)} #RTRANS"
                     f" history rows not stored twice), {c.get('accounts', 0)} accounts,"
                     f" {c.get('balances', 0)} balances; replaced {c.get('replaced_vouchers', 0)}"
                     " vouchers")
        docs = c.get("documents", 0)
        lines.append(f"  documents of the year: {docs}, {c.get('documents_linked', 0)} linked to "
                     "a voucher of this ledger" + (f", {docs - c.get('documents_linked', 0)} "
                                                   "without one" if docs else ""))
        if result.load_id is not None:
            lines.append(f"  load {result.load_id}")
    elif result.outcome == "dry_run":
        lines.append(f"dry run: would be refused: {result.message}")
    return lines


def status_text(statuses: list[YearStatus]) -> list[str]:
    """One block per company, one line per year."""
    if not statuses:
        return ["the ledger holds no financial years yet"]
    lines: list[str] = []
    company = None
    for s in statuses:
        ref = s.ref
        if ref.company_id != company:
            company = ref.company_id
            tenant = f", Fortnox tenant {ref.tenant_id}" if ref.tenant_id is not None else ""
            lines.append(f"{ref.company_name or '(no name)'} ({ref.orgnr or 'no orgnr'}{tenant})")
            lines.append(f"  {'financial year':<22} {'source':<8} {'vouchers':>9} "
                         f"{'booked rows':>12} {'documents':>10} {'linked':>7}  last load")
        last = "-"
        if s.last_load:
            ll = s.last_load
            last = f"{ll['started_at']} {ll['source']} {ll['status']} ({ll['outcome']})"
            if ll.get("error") and ll["status"] != "succeeded":
                last += f": {ll['error'][:100]}"
        lines.append(f"  {ref.start}..{ref.end} {ref.ledger_source or 'none':<8} "
                     f"{s.vouchers:>9} {s.booked_rows:>12} {s.documents:>10} "
                     f"{s.documents_linked:>7}  {last}")
    return lines


def status_json(statuses: list[YearStatus], database: str) -> dict[str, Any]:
    """Companies with their years."""
    companies: dict[int, dict[str, Any]] = {}
    for s in statuses:
        ref = s.ref
        entry = companies.setdefault(ref.company_id, {
            "name": ref.company_name, "organisation_number": ref.orgnr,
            "tenant_id": ref.tenant_id, "years": []})
        entry["years"].append(s.as_dict())
    return {"database": database, "companies": list(companies.values())}


def verify_text(years: list[YearRef], findings: list[VerifyFinding]) -> list[str]:
    """Findings grouped by year, then a summary line."""
    lines: list[str] = []
    by_year: dict[tuple[str, str], list[VerifyFinding]] = {}
    for f in findings:
        by_year.setdefault((f.company, f.year.isoformat()), []).append(f)
    for ref in years:
        key = (ref.orgnr or ref.company_name or str(ref.company_id), ref.start.isoformat())
        found = by_year.get(key, [])
        errors = sum(f.severity == "error" for f in found)
        state = "ok" if not found else f"{errors} error(s), {len(found) - errors} warning(s)"
        lines.append(f"{ref.label} [{ref.ledger_source or 'no ledger'}]: {state}")
        lines += [f"  {f.severity:<7} {f.code}: {f.message}" for f in found]
    errors = sum(f.severity == "error" for f in findings)
    lines.append(f"verify: {len(years)} financial year(s), {errors} error(s), "
                 f"{len(findings) - errors} warning(s)")
    return lines


def verify_json(years: list[YearRef], findings: list[VerifyFinding],
                database: str) -> dict[str, Any]:
    """Everything `verify_text` says, for programs."""
    errors = sum(f.severity == "error" for f in findings)
    return {
        "database": database,
        "years": [{"company": y.company_name, "organisation_number": y.orgnr,
                   "start": y.start.isoformat(), "end": y.end.isoformat(),
                   "ledger_source": y.ledger_source} for y in years],
        "findings": [f.as_dict() for f in findings],
        "summary": {"error": errors, "warning": len(findings) - errors},
    }
