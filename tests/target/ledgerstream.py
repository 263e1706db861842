"""Build contract-following Singer streams in tests, run the target, read the ledger back."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from contextlib import redirect_stdout
from decimal import Decimal
from typing import Any

import simplejson
from sqlalchemy import MetaData, create_engine, select, text

from target_senseworks.contract import schema_message
from target_senseworks.ledger.db import make_engine
from target_senseworks.target import TargetSenseworks

T1 = 1234567


class Stream:
    """Accumulates Singer messages; amounts are written as exact JSON numbers."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._schemas: set[str] = set()

    def record(self, stream: str, rec: dict[str, Any]) -> Stream:
        if stream not in self._schemas:
            self._schemas.add(stream)
            self.messages.append(schema_message(stream))
        self.messages.append({"type": "RECORD", "stream": stream, "record": rec})
        return self

    def state(self, value: dict[str, Any]) -> Stream:
        self.messages.append({"type": "STATE", "value": value})
        return self

    def company(self, tenant: int = T1, name: str = "Exempel AB",
                org: str = "556677-8899") -> Stream:
        return self.record("company_information", {
            "tenant_id": tenant, "organisation_number": org, "company_name": name,
            "address": "Storgatan 1", "zip_code": "11122", "city": "Stockholm",
            "country_code": "SE"})

    def year(self, fy: int, start: str, end: str, tenant: int = T1) -> Stream:
        return self.record("financial_years", {
            "tenant_id": tenant, "id": fy, "from_date": start, "to_date": end,
            "accounting_method": "ACCRUAL", "account_chart_type": "BAS"})

    def account(self, fy: int, number: str, description: str, bbf: str | None = "0",
                tenant: int = T1) -> Stream:
        return self.record("accounts", {
            "tenant_id": tenant, "financial_year_id": fy, "number": number,
            "description": description, "active": True, "sru": None, "vat_code": None,
            "balance_brought_forward": None if bbf is None else Decimal(bbf)})

    def series(self, fy: int, code: str, description: str, tenant: int = T1) -> Stream:
        return self.record("voucher_series", {
            "tenant_id": tenant, "financial_year_id": fy, "code": code,
            "description": description, "manual": True})

    def voucher(self, fy: int, series: str, number: int, date: str,
                rows: list[tuple[str, str] | tuple[str, str, bool]],
                description: str = "Verifikation", tenant: int = T1,
                rows_first: bool = False) -> Stream:
        """A voucher and its rows; `rows_first` is tap-fortnox's order (rows are a child stream)."""
        header = {
            "tenant_id": tenant, "financial_year_id": fy, "series": series, "number": number,
            "transaction_date": date, "description": description, "comments": None,
            "reference_type": "MANUAL", "reference_number": None, "approval_state": 0,
            "registration_date": date}
        if not rows_first:
            self.record("vouchers", header)
        for i, row in enumerate(rows):
            account, amount = row[0], Decimal(row[1])
            removed = bool(row[2]) if len(row) > 2 else False  # type: ignore[misc]
            self.record("voucher_rows", {
                "tenant_id": tenant, "financial_year_id": fy, "series": series,
                "number": number, "row_index": i, "account": account,
                "debit": amount if amount > 0 else Decimal("0"),
                "credit": -amount if amount < 0 else Decimal("0"), "amount": amount,
                "description": None, "transaction_information": None, "cost_center": None,
                "project": None, "quantity": None, "removed": removed})
        if rows_first:
            self.record("vouchers", header)
        return self

    def snapshot(self, fy: int, series: dict[str, list[tuple[int, int]]],
                 tenant: int = T1) -> Stream:
        count = sum(hi - lo + 1 for ranges in series.values() for lo, hi in ranges)
        return self.record("voucher_snapshots", {
            "tenant_id": tenant, "financial_year_id": fy, "voucher_count": count,
            "series": [{"code": c, "ranges": [list(r) for r in rs]} for c, rs in series.items()],
            "extracted_at": "2026-11-26T01:00:00+00:00"})

    def attachment(self, file_id: str, data: bytes, vouchers: list[tuple[int, str, int]],
                   *, with_content: bool = True, tenant: int = T1,
                   sha256: str | None = None) -> Stream:
        return self.record("attachments", {
            "tenant_id": tenant, "file_id": file_id, "module": "accounting",
            "file_name": f"{file_id}.pdf", "content_type": "application/pdf",
            "size": len(data), "sha256": sha256 or hashlib.sha256(data).hexdigest(),
            "vouchers": [{"financial_year_id": f, "series": s, "number": n}
                         for f, s, n in vouchers],
            "source": {"type": "voucher", "number": "1"},
            "content": base64.b64encode(data).decode() if with_content else None,
            "skipped_reason": None if with_content else "metadata only"})

    def text(self) -> str:
        return "".join(simplejson.dumps(m, use_decimal=True) + "\n" for m in self.messages)


def run_target(url: str, stream: Stream | str, **config: Any) -> list[dict[str, Any]]:
    """Run the target in-process; return the STATE values it emitted."""
    target = TargetSenseworks(config={"database_url": url, **config})
    out = io.StringIO()
    body = stream.text() if isinstance(stream, Stream) else stream
    with redirect_stdout(out):
        target.listen(io.StringIO(body))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


#: Load bookkeeping (what ran, when, with what outcome), not ledger content.
LOAD_TABLES = ("loads", "load_years")


def dump(url: str, *, skip: tuple[str, ...] = LOAD_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted: equal dumps mean an unchanged ledger."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    result = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name in skip:
                continue
            rows = conn.execute(select(table)).all()
            result[name] = sorted((tuple(r) for r in rows), key=repr)
    engine.dispose()
    return result


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.dispose()
    return [tuple(r) for r in rows]
