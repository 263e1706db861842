"""Turn the fields of one line into a typed record, by position.

Each label has a field layout: which fields it takes, of what kind, and how many
are mandatory.  Values that do not have their kind's form raise `SieValueError`
naming the label, the field and the line; trailing fields beyond the layout are
kept in `Record.extra`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from . import records as r
from .errors import SieValueError
from .lexer import Field

_AMOUNT = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?")
_INT = re.compile(rb"-?[0-9]+")
_DATE = re.compile(rb"[0-9]{8}")
_PERIOD = re.compile(rb"[0-9]{4}(0[1-9]|1[0-2])")
_DATE_CACHE_LIMIT = 20000

Decode = Callable[[bytes, int], str]


class Converter:
    """Field-value parsing shared by the parser's general and fast paths."""

    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.amount_precision_lines: list[int] = []
        self.dates: dict[bytes, date] = {}

    # --- single values -------------------------------------------------------

    def amount(self, raw: Field, line: int, what: str) -> Decimal:
        if isinstance(raw, bytes) and _AMOUNT.fullmatch(raw):
            dot = raw.find(b".")
            if dot >= 0 and len(raw) - dot - 1 > 2:
                self.amount_precision_lines.append(line)
            return Decimal(raw.decode("ascii"))
        hint = " (SIE uses '.' as decimal point)" if isinstance(raw, bytes) and b"," in raw else ""
        raise SieValueError(f"{what}: expected an amount like -1234.50, got {_show(raw)}{hint}", line)

    def quantity(self, raw: Field, line: int, what: str) -> Decimal | None:
        if raw == b"":
            return None
        if isinstance(raw, bytes) and _AMOUNT.fullmatch(raw):
            return Decimal(raw.decode("ascii"))
        raise SieValueError(f"{what}: expected a quantity like 1.5, got {_show(raw)}", line)

    def date(self, raw: Field, line: int, what: str) -> date:
        if isinstance(raw, bytes):
            cached = self.dates.get(raw)
            if cached is not None:
                return cached
            if _DATE.fullmatch(raw):
                try:
                    value = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
                except ValueError:
                    pass
                else:
                    if len(self.dates) >= _DATE_CACHE_LIMIT:
                        self.dates.clear()
                    self.dates[raw] = value
                    return value
        raise SieValueError(f"{what}: expected a date YYYYMMDD, got {_show(raw)}", line)

    def optional_date(self, raw: Field, line: int, what: str) -> date | None:
        return None if raw == b"" else self.date(raw, line, what)

    def integer(self, raw: Field, line: int, what: str) -> int:
        if isinstance(raw, bytes) and _INT.fullmatch(raw):
            return int(raw)
        raise SieValueError(f"{what}: expected a whole number, got {_show(raw)}", line)

    def year(self, raw: Field, line: int, what: str) -> int:
        value = self.integer(raw, line, what)
        if value > 0:
            raise SieValueError(f"{what}: a year index is 0 or negative (0 = current), got {value}", line)
        return value

    def period(self, raw: Field, line: int, what: str) -> str:
        if isinstance(raw, bytes) and _PERIOD.fullmatch(raw):
            return raw.decode("ascii")
        raise SieValueError(f"{what}: expected a period YYYYMM, got {_show(raw)}", line)

    def text(self, raw: Field, line: int, what: str) -> str:
        if isinstance(raw, bytes):
            return self.decode(raw, line)
        raise SieValueError(f"{what}: expected a text field, got an object list", line)

    def objects(self, raw: Field, line: int, what: str) -> r.ObjectList:
        if not isinstance(raw, list):
            raise SieValueError(f"{what}: expected an object list {{dim object ...}}, got {_show(raw)}", line)
        if len(raw) % 2:
            raise SieValueError(f"{what}: an object list holds pairs of dimension and object, "
                                f"got {len(raw)} values", line)
        decode = self.decode
        return tuple((decode(raw[i], line), decode(raw[i + 1], line)) for i in range(0, len(raw), 2))

    def extra(self, fields: list[Field], line: int) -> tuple[str, ...]:
        """Trailing fields beyond a label's layout, kept as text."""
        out = []
        for f in fields:
            if isinstance(f, list):
                out.append("{" + " ".join(self.decode(x, line) for x in f) + "}")
            else:
                out.append(self.decode(f, line))
        return tuple(out)

    # --- whole records -------------------------------------------------------

    def record(self, label: str, fields: list[Field], line: int) -> r.Record:
        """A typed record for a non-voucher label (fields exclude the label)."""
        layout = LAYOUTS.get(label)
        if layout is None:
            return r.UnknownRecord(label, self.extra(fields, line), line=line)
        cls, kinds, mandatory = layout
        if len(fields) < mandatory:
            names = ", ".join(name for name, _ in kinds[:mandatory])
            raise SieValueError(f"{label} needs {mandatory} field(s) ({names}), got {len(fields)}", line)
        values = []
        for (name, kind), raw in zip(kinds, fields, strict=False):
            values.append(getattr(self, kind)(raw, line, f"{label} {name}"))
        extra = self.extra(fields[len(kinds):], line) if len(fields) > len(kinds) else ()
        return cls(*values, line=line, extra=extra)

    def voucher_row(self, kind: r.RowKind, fields: list[Field], line: int) -> r.VoucherRow:
        label = kind.value
        n = len(fields)
        if n < 3:
            raise SieValueError(f"{label} needs account, object list and amount, got {n} field(s)", line)
        account = fields[0]
        if not isinstance(account, bytes):
            raise SieValueError(f"{label} account: expected an account number, got an object list", line)
        row = r.VoucherRow(
            kind,
            self.decode(account, line),
            () if fields[1] == [] else self.objects(fields[1], line, f"{label} object list"),
            self.amount(fields[2], line, f"{label} amount"),
            self.optional_date(fields[3], line, f"{label} date") if n > 3 else None,
            self.text(fields[4], line, f"{label} text") if n > 4 else "",
            self.quantity(fields[5], line, f"{label} quantity") if n > 5 else None,
            self.text(fields[6], line, f"{label} sign") if n > 6 else "",
            line=line,
        )
        if n > 7:
            row.extra = self.extra(fields[7:], line)
        return row


def _show(raw: Field) -> str:
    if isinstance(raw, list):
        return "an object list"
    text = raw[:40].decode("latin-1")
    return f"{text!r}" + ("..." if len(raw) > 40 else "") if raw else "an empty field"


_T, _D, _OD, _I, _Y, _A, _Q, _O, _P = (
    "text", "date", "optional_date", "integer", "year", "amount", "quantity", "objects", "period"
)

#: label -> (record class, ((field name, kind), ...), number of mandatory fields)
LAYOUTS: dict[str, tuple[type[r.Record], tuple[tuple[str, str], ...], int]] = {
    "#FLAGGA": (r.Flag, (("flag", _I),), 1),
    "#PROGRAM": (r.Program, (("name", _T), ("version", _T)), 1),
    "#FORMAT": (r.Format, (("format", _T),), 1),
    "#GEN": (r.Generated, (("date", _D), ("sign", _T)), 1),
    "#SIETYP": (r.SieType, (("type", _I),), 1),
    "#PROSA": (r.Prosa, (("text", _T),), 0),
    "#FTYP": (r.CompanyType, (("type", _T),), 1),
    "#FNR": (r.CompanyId, (("id", _T),), 1),
    "#ORGNR": (r.OrgNumber, (("orgnr", _T), ("acquisition", _T), ("activity", _T)), 0),
    "#BKOD": (r.IndustryCode, (("sni", _T),), 1),
    "#ADRESS": (r.Address, (("contact", _T), ("street", _T), ("postal", _T), ("phone", _T)), 0),
    "#FNAMN": (r.CompanyName, (("name", _T),), 1),
    "#RAR": (r.FinancialYear, (("year", _Y), ("start", _D), ("end", _D)), 3),
    "#TAXAR": (r.TaxYear, (("year", _I),), 1),
    "#OMFATTN": (r.BalancesUntil, (("date", _D),), 1),
    "#KPTYP": (r.ChartType, (("type", _T),), 1),
    "#VALUTA": (r.Currency, (("code", _T),), 1),
    "#KONTO": (r.Account, (("account", _T), ("name", _T)), 1),
    "#KTYP": (r.AccountType, (("account", _T), ("type", _T)), 2),
    "#ENHET": (r.Unit, (("account", _T), ("unit", _T)), 2),
    "#SRU": (r.SruCode, (("account", _T), ("code", _T)), 2),
    "#DIM": (r.Dimension, (("dimension", _T), ("name", _T)), 1),
    "#UNDERDIM": (r.SubDimension, (("dimension", _T), ("name", _T), ("parent", _T)), 3),
    "#OBJEKT": (r.Object, (("dimension", _T), ("object", _T), ("name", _T)), 2),
    "#IB": (r.OpeningBalance, (("year", _Y), ("account", _T), ("amount", _A), ("quantity", _Q)), 3),
    "#UB": (r.ClosingBalance, (("year", _Y), ("account", _T), ("amount", _A), ("quantity", _Q)), 3),
    "#RES": (r.YearResult, (("year", _Y), ("account", _T), ("amount", _A), ("quantity", _Q)), 3),
    "#OIB": (r.ObjectOpeningBalance,
             (("year", _Y), ("account", _T), ("objects", _O), ("amount", _A), ("quantity", _Q)), 4),
    "#OUB": (r.ObjectClosingBalance,
             (("year", _Y), ("account", _T), ("objects", _O), ("amount", _A), ("quantity", _Q)), 4),
    "#PSALDO": (r.PeriodBalance, (("year", _Y), ("period", _P), ("account", _T), ("objects", _O),
                                  ("amount", _A), ("quantity", _Q)), 5),
    "#PBUDGET": (r.PeriodBudget, (("year", _Y), ("period", _P), ("account", _T), ("objects", _O),
                                  ("amount", _A), ("quantity", _Q)), 5),
    "#VER": (r.Voucher, (("series", _T), ("number", _T), ("date", _D), ("text", _T),
                         ("registration date", _OD), ("sign", _T)), 3),
}
