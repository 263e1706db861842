"""Deterministic books: the same seed and profile always give the same companies.

Every random choice comes from a `random.Random` seeded with a string derived from the
seed and the company index, so companies are independent of each other and of the
process (str seeds are hashed with SHA-512, not the salted `hash()`).
Amounts are generated in integer öre and turned into two-decimal `Decimal`s.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from decimal import Decimal

from . import chart
from .books import (
    ZERO,
    Account,
    ArchiveFile,
    ArchiveFolder,
    Books,
    Company,
    FinancialYear,
    Invoice,
    InvoiceAttachment,
    SupplierInvoice,
    SupplierInvoiceFileConnection,
    Voucher,
    VoucherFileConnection,
    VoucherRow,
    VoucherSeries,
)
from .files import make_pdf, make_png
from .timeutil import stockholm_to_utc


@dataclass(frozen=True)
class Profile:
    """Size and flavour of the generated books."""

    companies: int = 3
    years: int = 2
    vouchers_per_year: int = 40
    attachment_share: float = 0.3
    correction_share: float = 0.05
    deleted_series_share: float = 0.5
    last_year: int = 2025  # calendar year in which every company's last financial year ends


PROFILES: dict[str, Profile] = {
    "tiny": Profile(companies=3, years=2, vouchers_per_year=40),
    "demo": Profile(companies=3, years=3, vouchers_per_year=1500, attachment_share=0.2),
    "large": Profile(companies=1, years=3, vouchers_per_year=20_000, attachment_share=0.1),
}


def make_profile(name: str = "tiny", **overrides: object) -> Profile:
    """A named preset with keyword overrides (unknown keys raise TypeError)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return replace(PROFILES[name], **overrides)  # type: ignore[arg-type]


# name, street, zip, city, first month of the financial year, missing licences
_TEMPLATES: tuple[tuple[str, str, str, str, int, frozenset[str]], ...] = (
    ("Kvarnbacken Bygg AB", "Storgatan 12", "411 38", "Göteborg", 1, frozenset()),
    ("Sjöbris Konsult AB", "Hamngatan 4", "111 47", "Stockholm", 7, frozenset()),
    ("Ödegårdens Café HB", "Kyrkvägen 3", "752 36", "Uppsala", 1, frozenset({"invoice"})),
)

ALL_LICENCES = frozenset({"bookkeeping", "invoice", "supplierinvoice", "archive"})

_SERIES = (
    ("A", "Redovisning", True),
    ("B", "Kundfakturor", False),
    ("C", "Kundinbetalningar", False),
    ("D", "Leverantörsfakturor", False),
    ("E", "Leverantörsutbetalningar", False),
    ("LEV", "Leverantörsimport kortköp", True),
)
_COST_CENTERS = {"100": "Administration", "200": "Försäljning", "300": "Produktion"}
_PROJECTS = {"1": "Kontorsflytt", "2": "Ny webbplats", "3": "Kundprojekt Norrland"}
_CUSTOMERS = (
    ("1", "Bergström Fastigheter AB"), ("2", "Åkesson & Dotter HB"), ("3", "Nordljus Energi AB"),
    ("4", "Kommunförbundet Väst"), ("5", "Lindqvist Måleri AB"),
)
_SUPPLIERS = (
    ("1", "Telia Sverige AB"), ("2", "Staples Sverige AB"), ("3", "Vattenfall AB"),
    ("4", "Ahlsell Sverige AB"), ("5", "Fastighets AB Älvstranden"), ("6", "Circle K Sverige AB"),
)
_MANUAL_TEXTS = (
    "Lön", "Periodisering hyra", "Avskrivning inventarier", "Skattekonto", "Bankavgifter",
    "Ränta lån", "Kontantkassa", "Momsredovisning", "Semesterlöneskuld", "Omföring",
)
# kind -> weight; payments fall back to their invoice kind when nothing is open
_KINDS = (("A", 30), ("LEV", 5), ("B", 20), ("C", 15), ("D", 18), ("E", 12))


def kr(ore: int) -> Decimal:
    """Integer öre → Decimal kronor with exactly two decimals."""
    return Decimal(ore).scaleb(-2)


def _row(account: int, ore: int, **kw: object) -> VoucherRow:
    amount = kr(abs(ore))
    debit, credit = (amount, ZERO) if ore >= 0 else (ZERO, amount)
    return VoucherRow(account=account, debit=debit, credit=credit, **kw)  # type: ignore[arg-type]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _org_number(rng: random.Random) -> str:
    """A Swedish organisation number 55xxxx-xxxx with a valid Luhn check digit."""
    digits = [5, 5, *(rng.randrange(10) for _ in range(7))]
    total = 0
    for i, d in enumerate(digits):
        v = d * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return f"{text[:6]}-{text[6:]}"


def generate(seed: int = 1, profile: Profile | None = None) -> Books:
    """Generate the books for `seed`; deterministic for equal (seed, profile)."""
    profile = profile or PROFILES["tiny"]
    rng = random.Random(f"fortnox-sandbox:{seed}")
    tenant_ids: list[int] = []
    while len(tenant_ids) < profile.companies:
        candidate = rng.randrange(1_000_000, 10_000_000)
        if candidate not in tenant_ids:
            tenant_ids.append(candidate)
    companies = {
        tid: _CompanyBuilder(seed, i, tid, profile).build() for i, tid in enumerate(tenant_ids)
    }
    return Books(seed=seed, companies=companies)


class _CompanyBuilder:
    """Builds one company year by year, carrying balances and open invoices forward."""

    def __init__(self, seed: int, index: int, tenant_id: int, profile: Profile) -> None:
        self.rng = random.Random(f"fortnox-sandbox:{seed}:company:{index}")
        self.profile = profile
        name, street, zip_code, city, start_month, missing = _TEMPLATES[index % len(_TEMPLATES)]
        if index >= len(_TEMPLATES):
            name = f"{name} {index // len(_TEMPLATES) + 1}"
        self.start_month = start_month
        self.company = Company(
            tenant_id=tenant_id,
            name=name,
            organisation_number=_org_number(self.rng),
            address=street,
            zip_code=zip_code,
            city=city,
            licences=set(ALL_LICENCES - missing),
            cost_centers=dict(_COST_CENTERS),
            projects=dict(_PROJECTS),
        )
        self.has_invoices = "invoice" in self.company.licences
        self.open_invoices: list[Invoice] = []
        self.open_supplier_invoices: list[SupplierInvoice] = []
        self.folders: dict[str, ArchiveFolder] = {}

    # -- structure ---------------------------------------------------------------

    def build(self) -> Company:
        c = self.company
        root = ArchiveFolder(id=_uuid(self.rng), name="root", path="")
        c.folders[root.id] = root
        c.root_folder_id = root.id
        previous: FinancialYear | None = None
        for i in range(self.profile.years):
            year = self._year(i)
            c.years.append(year)
            self._chart(year, previous)
            c.series[year.id] = {
                code: VoucherSeries(code, text, manual, year.id) for code, text, manual in _SERIES
            }
            self._vouchers(year)
            if i < self.profile.years - 1:
                self._close_year(year)
            previous = year
        return c

    def _year(self, i: int) -> FinancialYear:
        first = self.profile.last_year - self.profile.years + 1 + i
        if self.start_month == 1:
            start, end = date(first, 1, 1), date(first, 12, 31)
        else:  # broken year, e.g. July-June, ending in `first`
            start = date(first - 1, self.start_month, 1)
            end = date(first, self.start_month, 1) - timedelta(days=1)
        return FinancialYear(id=i + 1, from_date=start, to_date=end)

    def _chart(self, year: FinancialYear, previous: FinancialYear | None) -> None:
        c = self.company
        if previous is None:
            opening = self._first_opening()
        else:  # the closing voucher moved the result to 2099, so UB carries over as IB
            closing = c.closing_balances(previous.id)
            opening = {n: b for n, b in closing.items() if n < chart.RESULT_ACCOUNT_START}
        modified = stockholm_to_utc(year.from_date, time(6, 0))
        c.accounts[year.id] = {
            number: Account(
                number=number,
                description=name,
                sru=sru,
                vat_code=vat,
                opening=opening.get(number, ZERO) if number < chart.RESULT_ACCOUNT_START else ZERO,
                quantity_unit=chart.QUANTITY_UNITS.get(number, ""),
                active=number != 1910 or year.id == 1,
                modified_at=modified,
            )
            for number, name, sru, vat in chart.CHART
        }

    def _first_opening(self) -> dict[int, Decimal]:
        r = self.rng
        ore = {
            1220: r.randrange(5_000_000, 50_000_000),
            1229: -r.randrange(1_000_000, 5_000_000),
            1460: r.randrange(0, 20_000_000),
            1930: r.randrange(10_000_000, 90_000_000),
            2081: -5_000_000,
            2350: -r.randrange(0, 30_000_000),
        }
        ore[2091] = -sum(ore.values())
        return {n: kr(v) for n, v in ore.items()}

    # -- vouchers ------------------------------------------------------------------

    def _vouchers(self, year: FinancialYear) -> None:
        r = self.rng
        days = (year.to_date - year.from_date).days
        dates = sorted(
            year.from_date + timedelta(days=r.randrange(days + 1))
            for _ in range(self.profile.vouchers_per_year)
        )
        kinds, weights = zip(*_KINDS, strict=True)
        numbers = {code: 0 for code, _, _ in _SERIES}
        made: list[Voucher] = []
        for day in dates:
            kind = r.choices(kinds, weights)[0]
            if kind == "C" and not self.open_invoices:
                kind = "B"
            if kind == "E" and not self.open_supplier_invoices:
                kind = "D"
            numbers[kind] += 1
            voucher = self._voucher(year, kind, numbers[kind], day)
            made.append(voucher)
            self.company.put_voucher(voucher)
        corrected = False
        for voucher in made:
            if voucher.series in ("A", "LEV") and r.random() < self.profile.correction_share:
                corrected = self._correct(voucher) or corrected
            if voucher.series in ("A", "LEV") and r.random() < self.profile.attachment_share:
                self._voucher_file(voucher)
        if not corrected and self.profile.correction_share > 0:
            # every year shows at least one correction, however small the profile
            for voucher in made:
                if voucher.series == "A" and self._correct(voucher):
                    break
        self._delete_last(year, numbers)

    def _voucher(self, year: FinancialYear, kind: str, number: int, day: date) -> Voucher:
        r = self.rng
        registered = min(day + timedelta(days=r.randrange(0, 6)), year.to_date + timedelta(days=20))
        moment = stockholm_to_utc(registered, time(r.randrange(7, 18), r.randrange(60)))
        voucher = Voucher(
            year_id=year.id, series=kind, number=number, transaction_date=day,
            description="", rows=[], registered=registered, modified_at=moment,
        )
        build = {
            "A": self._manual, "LEV": self._card_purchase, "B": self._invoice,
            "C": self._invoice_payment, "D": self._supplier_invoice, "E": self._supplier_payment,
        }[kind]
        build(voucher)
        if voucher.balance() != ZERO:  # pragma: no cover - a generator bug, never data
            raise AssertionError(f"unbalanced generated voucher {voucher.key}")
        return voucher

    def _dims(self, account: int) -> dict[str, object]:
        """Cost centre / project / quantity on some result-account rows."""
        r = self.rng
        out: dict[str, object] = {}
        if account >= chart.RESULT_ACCOUNT_START:
            if r.random() < 0.3:
                out["cost_center"] = r.choice(list(_COST_CENTERS))
            if r.random() < 0.2:
                out["project"] = r.choice(list(_PROJECTS))
        if account in chart.QUANTITY_UNITS and r.random() < 0.5:
            out["quantity"] = Decimal(r.randrange(1, 50_000)).scaleb(-r.choice((0, 1, 2, 3)))
        return out

    def _manual(self, v: Voucher) -> None:
        r = self.rng
        if r.random() < 0.25:
            gross = r.randrange(2_500_000, 6_000_000)
            fees = gross * 3142 // 10_000
            tax = gross * 30 // 100
            v.description = f"Lön {v.transaction_date:%Y-%m}"
            v.rows = [
                _row(7210, gross, **self._dims(7210)), _row(7510, fees),
                _row(2710, -tax), _row(2731, -fees), _row(chart.BANK, tax - gross),
            ]
        else:
            v.description = r.choice(_MANUAL_TEXTS)
            n = r.randrange(2, 13)
            rows: list[VoucherRow] = []
            total = 0
            for _ in range(n - 1):
                account = r.choice(chart.MANUAL_ACCOUNTS + chart.COST_ACCOUNTS)
                ore = r.randrange(100, 2_000_000) * r.choice((1, 1, -1))
                total += ore
                rows.append(_row(account, ore, **self._dims(account)))
            if total == 0:
                rows[0] = _row(rows[0].account, int(rows[0].amount * 100) + 100)
                total = 100
            rows.append(_row(chart.BANK, -total, transaction_information="Bank"))
            v.rows = rows
        v.comments = "" if r.random() < 0.8 else "Kontrollerad av revisor"

    def _card_purchase(self, v: Voucher) -> None:
        supplier = self.rng.choice(_SUPPLIERS)[1]
        account = self.rng.choice(chart.COST_ACCOUNTS)
        net = self.rng.randrange(5_000, 500_000)
        vat = (net * 25 + 50) // 100
        v.description = f"Kortköp {supplier}"
        v.rows = [
            _row(account, net, transaction_information=supplier, **self._dims(account)),
            _row(chart.INPUT_VAT, vat),
            _row(chart.BANK, -(net + vat)),
        ]

    def _lines(self, accounts: tuple[int, ...], low: int, high: int) -> list[tuple[int, int]]:
        return [
            (self.rng.choice(accounts), self.rng.randrange(low, high))
            for _ in range(self.rng.randrange(1, 11))
        ]

    def _invoice(self, v: Voucher) -> None:
        c = self.company
        lines = self._lines(chart.SALES_ACCOUNTS, 10_000, 5_000_000)
        net = sum(ore for _, ore in lines)
        vat = (net * 25 + 50) // 100
        customer_number, customer = self.rng.choice(_CUSTOMERS)
        v.rows = [_row(chart.RECEIVABLES, net + vat)]
        v.rows += [_row(a, -ore, **self._dims(a)) for a, ore in lines]
        v.rows.append(_row(chart.OUTPUT_VAT, -vat))
        if not self.has_invoices:
            v.description = f"Kundfaktura {customer}"
            return
        number = len(c.invoices) + 1
        v.reference_type, v.reference_number = "INVOICE", str(number)
        v.description = f"Kundfaktura {number} {customer}"
        invoice = Invoice(
            document_number=number, customer_number=customer_number, customer_name=customer,
            invoice_date=v.transaction_date, due_date=v.transaction_date + timedelta(days=30),
            net=kr(net), vat=kr(vat), total=kr(net + vat), balance=kr(net + vat),
            ocr=f"{number}{v.year_id}{number % 10}", voucher=(v.year_id, v.series, v.number),
            modified_at=v.modified_at,
        )
        c.invoices[number] = invoice
        self.open_invoices.append(invoice)
        if self.rng.random() < self.profile.attachment_share:
            self._invoice_attachment(invoice)

    def _invoice_payment(self, v: Voucher) -> None:
        invoice = self.open_invoices.pop(0)
        v.reference_type, v.reference_number = "INVOICEPAYMENT", str(invoice.document_number)
        v.description = f"Inbetalning faktura {invoice.document_number}"
        v.rows = [
            _row(chart.BANK, int(invoice.total * 100)),
            _row(chart.RECEIVABLES, -int(invoice.total * 100)),
        ]
        invoice.balance = ZERO
        invoice.final_pay_date = v.transaction_date
        invoice.modified_at = max(invoice.modified_at, v.modified_at)

    def _supplier_invoice(self, v: Voucher) -> None:
        c = self.company
        lines = self._lines(chart.COST_ACCOUNTS, 5_000, 2_000_000)
        net = sum(ore for _, ore in lines)
        vat = (net * 25 + 50) // 100
        supplier_number, supplier = self.rng.choice(_SUPPLIERS)
        cost_rows = [_row(a, ore, **self._dims(a)) for a, ore in lines]
        v.rows = [_row(chart.PAYABLES, -(net + vat)), *cost_rows, _row(chart.INPUT_VAT, vat)]
        number = len(c.supplier_invoices) + 1
        v.reference_type, v.reference_number = "SUPPLIERINVOICE", str(number)
        v.description = f"Leverantörsfaktura {number} {supplier}"
        invoice = SupplierInvoice(
            given_number=number, supplier_number=supplier_number, supplier_name=supplier,
            invoice_number=str(self.rng.randrange(10_000, 999_999)),
            invoice_date=v.transaction_date, due_date=v.transaction_date + timedelta(days=30),
            net=kr(net), vat=kr(vat), total=kr(net + vat), balance=kr(net + vat),
            rows=[copy.copy(row) for row in v.rows],
            vouchers=[(v.number, v.year_id, v.series, "SUPPLIERINVOICE")],
            ocr=str(self.rng.randrange(10**9, 10**10)), modified_at=v.modified_at,
        )
        c.supplier_invoices[number] = invoice
        self.open_supplier_invoices.append(invoice)
        if self.rng.random() < min(1.0, self.profile.attachment_share * 2):
            self._supplier_invoice_file(invoice)

    def _supplier_payment(self, v: Voucher) -> None:
        invoice = self.open_supplier_invoices.pop(0)
        v.reference_type, v.reference_number = "SUPPLIERPAYMENT", str(invoice.given_number)
        v.description = f"Betalning leverantörsfaktura {invoice.given_number}"
        v.rows = [
            _row(chart.PAYABLES, int(invoice.total * 100)),
            _row(chart.BANK, -int(invoice.total * 100)),
        ]
        invoice.balance = ZERO
        invoice.vouchers.append((v.number, v.year_id, v.series, "SUPPLIERPAYMENT"))
        invoice.modified_at = max(invoice.modified_at, v.modified_at)

    def _close_year(self, year: FinancialYear) -> None:
        """The year-end voucher: the result to 2099 against 8999, as a closed year has it."""
        c = self.company
        closing = c.closing_balances(year.id)
        result = sum((b for n, b in closing.items() if n >= chart.RESULT_ACCOUNT_START), ZERO)
        if result == ZERO:
            return
        ore = int(result * 100)
        registered = year.to_date + timedelta(days=45)
        voucher = Voucher(
            year_id=year.id, series="A", number=c.last_number(year.id, "A") + 1,
            transaction_date=year.to_date, description="Årets resultat",
            rows=[_row(chart.YEAR_RESULT_PL, -ore), _row(chart.YEAR_RESULT, ore)],
            registered=registered, modified_at=stockholm_to_utc(registered, time(10, 0)),
        )
        c.put_voucher(voucher)

    # -- corrections ---------------------------------------------------------------

    def _correct(self, v: Voucher) -> bool:
        """Strike one row and book replacement row(s) of the same total (Fortnox "Ändra")."""
        r = self.rng
        candidates = [i for i, row in enumerate(v.rows) if row.account != chart.BANK]
        if not candidates:
            return False
        struck = v.rows[r.choice(candidates)]
        struck.removed = True
        ore = int(struck.amount * 100)
        if r.random() < 0.5 or abs(ore) < 2 or len(v.booked_rows()) >= 11:  # struck already
            account = r.choice([a for a in chart.COST_ACCOUNTS if a != struck.account])
            replacements = [_row(account, ore, **self._dims(account))]
        else:
            part = ore // 2
            replacements = [_row(struck.account, part), _row(struck.account, ore - part)]
        for row in replacements:
            row.added = True
        v.rows.extend(replacements)
        v.modified_at += timedelta(days=r.randrange(1, 30), minutes=r.randrange(600))
        return True

    def _delete_last(self, year: FinancialYear, numbers: dict[str, int]) -> None:
        """Delete the last voucher of some series, as Fortnox allows for the last one only."""
        c = self.company
        for code in ("A", "LEV"):
            last = c.voucher(year.id, code, numbers[code])
            if last is None or numbers[code] < 2:
                continue
            # series A of the first year always shows one, so small profiles have it too
            forced = code == "A" and year.id == 1 and self.profile.deleted_series_share > 0
            if forced or self.rng.random() < self.profile.deleted_series_share:
                c.voucher_file_connections = [
                    f for f in c.voucher_file_connections
                    if (f.year_id, f.series, f.number) != last.key
                ]
                c.drop_voucher(last)
                c.deleted_vouchers.append((*last.key, last.modified_at + timedelta(hours=1)))

    # -- files -----------------------------------------------------------------------

    def _folder(self, name: str) -> ArchiveFolder:
        c = self.company
        folder = self.folders.get(name)
        if folder is None:
            folder = ArchiveFolder(id=_uuid(self.rng), name=name, path=name)
            self.folders[name] = folder
            c.folders[folder.id] = folder
            c.folders[c.root_folder_id].folder_ids.append(folder.id)
        return folder

    def _file(self, folder_name: str, name: str, text: str, image: bool) -> ArchiveFile:
        rng = self.rng
        if image:
            content = make_png((rng.randrange(256), rng.randrange(256), rng.randrange(256)))
            name, content_type = f"{name}.png", "image/png"
        else:
            content = make_pdf(f"{text} | {self.company.name} | {rng.getrandbits(32):08x}")
            name, content_type = f"{name}.pdf", "application/pdf"
        folder = self._folder(folder_name)
        f = ArchiveFile(
            id=_uuid(rng), name=name, path=folder.path, content=content, content_type=content_type
        )
        self.company.files[f.id] = f
        folder.file_ids.append(f.id)
        return f

    def _voucher_file(self, v: Voucher) -> None:
        f = self._file(
            "Verifikationer", f"Underlag {v.series}{v.number}",
            f"Kvitto {v.series} {v.number} {v.transaction_date}", self.rng.random() < 0.5,
        )
        self.company.voucher_file_connections.append(
            VoucherFileConnection(f.id, v.year_id, v.series, v.number, f.name)
        )

    def _supplier_invoice_file(self, inv: SupplierInvoice) -> None:
        f = self._file(
            "Leverantörsfakturor", f"Faktura {inv.invoice_number}",
            f"Faktura {inv.invoice_number} {inv.supplier_name} {inv.total} SEK", image=False,
        )
        self.company.supplier_invoice_file_connections.append(
            SupplierInvoiceFileConnection(f.id, inv.given_number, f.name)
        )

    def _invoice_attachment(self, inv: Invoice) -> None:
        f = self._file(
            f"fndoc{inv.invoice_date:%Y}", f"Bilaga faktura {inv.document_number}",
            f"Tidrapport till faktura {inv.document_number}", self.rng.random() < 0.3,
        )
        self.company.invoice_attachments.append(
            InvoiceAttachment(
                id=_uuid(self.rng), entity_id=inv.document_number, entity_type="F",
                file_id=f.id, include_on_send=self.rng.random() < 0.5,
            )
        )
