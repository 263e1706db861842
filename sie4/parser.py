"""The sans-I/O SIE-4 parser: feed it bytes, get typed records back.

Like h11, the parser owns no file or socket: the caller feeds chunks of bytes as
they arrive (`feed`) and says when the input ends (`close`); each call returns
the records completed so far.  A voucher is returned when its block closes, so
the parser holds at most one voucher block at a time and a file of any size
streams in constant memory.

Lexical and structural faults raise `SieError`; faults that real exports contain
(encoding anomalies, a wrong #KSUMMA, #RTRANS rows without their twin) are
reported as `findings` and the records are still returned.
"""

from __future__ import annotations

import re
import sys
import zlib
from collections.abc import Iterable
from decimal import Decimal

from . import records as r
from .convert import Converter
from .encoding import TextDecoder
from .errors import SieStructureError, SieSyntaxError, SieTruncatedError, SieValidationError
from .findings import Finding, Severity
from .lexer import Field, flatten, split_fields

KSUMMA_ABSENT = "absent"
KSUMMA_OK = "ok"
KSUMMA_MISMATCH = "mismatch"
KSUMMA_TRUNCATED = "truncated"

#: Bytes that never belong in a SIE file (TAB, LF and CR are delimiters).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LABEL = re.compile(rb"#[A-Za-z0-9_]+")
_BOM = b"\xef\xbb\xbf"


def _compile(pattern: bytes) -> re.Pattern[bytes]:
    """Compile a fast-path pattern written with possessive quantifiers (`*+`, `++`).

    They tell `re` (Python 3.11+) that a run of spaces, digits or text is never
    given back, which spares it the bookkeeping for backtracking and makes these
    once-per-line matches about a fifth faster.  The patterns never need that
    backtracking, so on 3.10 the plain quantifiers match exactly the same.
    """
    if sys.version_info < (3, 11):
        pattern = pattern.replace(b"*+", b"*").replace(b"++", b"+")
    return re.compile(pattern)


#: The common shapes of a voucher row, matched in one step on the raw line:
#: label, account, object list (checked by `_fast_objects`), amount, then
#: optionally date, text, quantity and sign.  Anything else (braces or escapes
#: inside the object list, bad values) takes the general path, which also
#: produces the precise error messages.  Optional parts are written `(?:X|)`
#: rather than `(?:X)?`: Python's `re` runs an alternative with an empty branch
#: markedly faster than a nested `?` group.  A bare field excludes CR, which
#: the general path strips from the end of a CRLF line.
_QUOTED_OR_BARE = rb'(?:"([^"\\]*+(?:\\"[^"\\]*+)*+)"|([^ \t\r"{}\\]++))'
_FAST_ROW = _compile(
    rb"[ \t]*+#([RB]?)TRANS[ \t]++([0-9]++)[ \t]++"
    rb"\{([^{}]*+)\}[ \t]++"
    rb"(-?[0-9]++(?:\.[0-9]{1,2}|))"
    rb'(?:[ \t]++(?:""|([0-9]{8}))'
    rb"(?:[ \t]++" + _QUOTED_OR_BARE +
    rb'(?:[ \t]++(?:""|(-?[0-9]++(?:\.[0-9]++|)))'
    rb"(?:[ \t]++" + _QUOTED_OR_BARE + rb"|)|)|)|)[ \t\r]*+"
)
_FAST_VER = _compile(
    rb"[ \t]*+#VER[ \t]++" + _QUOTED_OR_BARE + rb"[ \t]++" + _QUOTED_OR_BARE +
    rb"[ \t]++([0-9]{8})"
    rb"(?:[ \t]++" + _QUOTED_OR_BARE +
    rb'(?:[ \t]++(?:""|([0-9]{8}))'
    rb"(?:[ \t]++" + _QUOTED_OR_BARE + rb"|)|)|)[ \t\r]*+"
)
_OBJECT_ITEM = re.compile(rb'"([^"]*)"|([^ \t"]+)')
#: Row kind by the letter before TRANS that `_FAST_ROW` captures.
_ROW_KINDS = {b"": r.RowKind.BOOKED, b"R": r.RowKind.ADDED, b"B": r.RowKind.REMOVED}
_BOOKED = r.RowKind.BOOKED
#: Brace lines as writers put them (LF or CRLF); other spellings take the general path.
_OPEN_LINES = frozenset({b"{", b"{\r"})
_CLOSE_LINES = frozenset({b"}", b"}\r"})
#: `_CONTROL` as a `bytes.translate` deletion set: deleting is a far cheaper scan than a regex search.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_BACKSLASH = ord("\\")
_new = object.__new__
_VoucherRow = r.VoucherRow
_Voucher = r.Voucher
#: Bound on the parser's caches of account numbers and object lists.
_CACHE_LIMIT = 4096
_ROW_LABELS = {"#TRANS": r.RowKind.BOOKED, "#RTRANS": r.RowKind.ADDED, "#BTRANS": r.RowKind.REMOVED}


class Parser:
    """Incremental SIE-4 parser.

    `max_line_bytes` bounds the memory a single line may take, so a file that is
    one endless line fails fast instead of filling memory.  With `strict=True`
    an error-level finding raises `SieValidationError` at once.
    """

    def __init__(self, *, strict: bool = False, max_line_bytes: int = 1 << 20) -> None:
        self.strict = strict
        self.max_line_bytes = max_line_bytes
        self.findings: list[Finding] = []
        self.ksumma = KSUMMA_ABSENT
        self.declared_ksumma: int | None = None
        self._records = 0
        self._decode = TextDecoder()
        self._decode_field = self._decode.__call__  # a bound method is cheaper to call
        self._convert = Converter(self._decode)
        self._dates = self._convert.dates
        self._objects_cache: dict[bytes, r.ObjectList] = {}
        self._accounts: dict[bytes, str] = {}
        self._buffer = b""
        self._line = 0
        self._started = False
        self._closed = False
        self._crc: int | None = None  # running #KSUMMA checksum while inside the covered part
        self._ksumma_line = 0
        self._head: r.Voucher | None = None  # a #VER whose block is expected or open
        self._block_open = False
        self._rows: list[r.VoucherRow] = []
        self._pending_added: r.VoucherRow | None = None

    # --- the public surface ----------------------------------------------------

    @property
    def encoding(self) -> str:
        """The text encoding the file turned out to use (`ascii` if no letters beyond it)."""
        return self._decode.evidence.detected

    @property
    def line(self) -> int:
        """Number of lines read so far."""
        return self._line

    def feed(self, data: bytes) -> list[r.Record]:
        """Take the next chunk of input; return the records it completed."""
        if self._closed:
            raise RuntimeError("feed() after close()")
        if not self._started and data:
            self._started = True
            if data.startswith(_BOM):
                data = data[len(_BOM):]
                self._note(Severity.WARNING, "encoding.bom", 1,
                           "the file starts with a UTF-8 byte order mark; SIE files are CP437")
        self._check_control(data)
        data = self._buffer + data if self._buffer else data
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > self.max_line_bytes:
            raise SieSyntaxError(
                f"line is longer than {self.max_line_bytes} bytes; is this a SIE file?", self._line + 1
            )
        out: list[r.Record] = []
        match_row, match_ver, fast_row = _FAST_ROW.fullmatch, _FAST_VER.fullmatch, self._fast_row
        rows = self._rows
        lineno = self._line
        try:
            for raw in lines:
                lineno += 1
                # Fast paths for the lines that make up nearly all of a file; not
                # while a #KSUMMA is running, which needs the general path's tokens.
                if self._crc is None:
                    if self._block_open:
                        if len(raw) < 3 and raw in _CLOSE_LINES:  # spare it the row pattern
                            self._close_block(lineno, out)
                            continue
                        m = match_row(raw)
                        if m is not None:
                            row = fast_row(m, lineno)
                            if row is not None:
                                if row.kind is _BOOKED and self._pending_added is None:
                                    rows.append(row)
                                else:
                                    self._add_row(row)
                                continue
                    elif self._head is None:
                        if self._records and (m := match_ver(raw)) is not None:
                            self._records += 1
                            self._head = self._fast_ver(m, lineno)
                            continue
                    elif raw in _OPEN_LINES:
                        self._block_open = True
                        continue
                self._feed_line(raw, lineno, out)
        finally:
            self._line = lineno  # also when a line raised: the error names it
        return out

    def close(self) -> list[r.Record]:
        """Say the input has ended; return the last records and run the end checks."""
        if self._closed:
            return []
        out: list[r.Record] = []
        if self._buffer:
            last, self._buffer = self._buffer, b""
            self._line += 1
            self._feed_line(last, self._line, out)
        self._closed = True
        if self._head is not None:
            where = self._head.line
            if self._block_open:
                raise SieTruncatedError(
                    f"the input ends inside the voucher block of #VER on line {where}: "
                    "expected '}' (the file is truncated)", self._line)
            raise SieTruncatedError(
                f"the input ends after #VER on line {where}: expected its '{{' block", self._line)
        if not self._records:
            raise SieTruncatedError("the input holds no SIE records (empty file?)", self._line or 1)
        if self._crc is not None:
            self.ksumma = KSUMMA_TRUNCATED
            self._note(Severity.ERROR, "ksumma.truncated", self._ksumma_line,
                       "#KSUMMA opens a checksummed file but no closing #KSUMMA follows: "
                       "the file is truncated")
        self._note_encoding()
        return out

    # --- lines -----------------------------------------------------------------

    def _check_control(self, data: bytes) -> None:
        if len(data.translate(None, _CONTROL_BYTES)) == len(data):
            return
        bad = _CONTROL.search(data)
        assert bad is not None
        pos = bad.start()
        line = self._line + 1 + data.count(b"\n", 0, pos)
        raise SieSyntaxError(
            f"control byte 0x{data[pos]:02X} where text belongs: this is binary data, not SIE", line
        )

    def _feed_line(self, raw: bytes, lineno: int, out: list[r.Record]) -> None:
        line = raw.strip()
        if not line:
            return
        first = line[0]
        if first == 35:  # '#'
            fields = split_fields(line, lineno)
            label_raw = fields[0]
            if not isinstance(label_raw, bytes) or not _LABEL.fullmatch(label_raw):
                raise SieSyntaxError(f"expected a label such as #VER, got {line[:20]!r}", lineno)
            label = label_raw.decode("ascii")
            if not label.isupper() and label.upper() in _KNOWN_LABELS:
                self._note(Severity.WARNING, "label.case", lineno,
                           f"label {label} is written in lower case; read as {label.upper()}")
                label = label.upper()
            self._record(label, fields, lineno, out)
        elif line == b"{":
            self._open_block(lineno)
        elif line == b"}":
            self._close_block(lineno, out)
        else:
            raise SieSyntaxError(
                f"expected a record starting with '#', or a brace alone on its line; got {line[:30]!r}",
                lineno,
            )

    def _record(self, label: str, fields: list[Field], lineno: int, out: list[r.Record]) -> None:
        if label == "#KSUMMA":
            self._ksumma(fields, lineno)
            return
        if self._crc is not None:
            self._crc = zlib.crc32(flatten(fields), self._crc)
        self._records += 1
        if self._records == 1 and label != "#FLAGGA":
            self._note(Severity.WARNING, "structure.flag_not_first", lineno,
                       f"the first record is {label}; SIE files start with #FLAGGA")
        if self._head is not None and not self._block_open:
            raise SieStructureError(
                f"expected '{{' on the line after #VER on line {self._head.line}, got {label}", lineno)
        kind = _ROW_LABELS.get(label)
        if kind is not None:
            if not self._block_open:
                raise SieStructureError(f"{label} outside a voucher block: rows belong inside "
                                        "the '{ }' after a #VER", lineno)
            self._add_row(self._convert.voucher_row(kind, fields[1:], lineno))
            return
        if label == "#VER":
            if self._block_open:
                raise SieStructureError(
                    f"#VER inside the voucher block of #VER on line {self._head.line}: "  # type: ignore[union-attr]
                    "expected '}' first", lineno)
            head = self._convert.record(label, fields[1:], lineno)
            assert isinstance(head, r.Voucher)
            self._head = head
            return
        record = self._convert.record(label, fields[1:], lineno)
        if isinstance(record, r.UnknownRecord):
            self._note(Severity.INFO, "label.unknown", lineno,
                       f"{label} is not a SIE 4 label; kept as an unknown record")
        elif record.extra:
            self._note(Severity.INFO, "fields.extra", lineno,
                       f"{label} has {len(record.extra)} field(s) beyond those SIE defines; kept")
        if self._block_open:
            self._note(Severity.WARNING, "voucher.foreign_record", lineno,
                       f"{label} inside a voucher block, where only rows belong; kept outside it")
        out.append(record)

    def _ksumma(self, fields: list[Field], lineno: int) -> None:
        if self._crc is None and self.ksumma == KSUMMA_ABSENT and len(fields) == 1:
            self._crc = 0
            self._ksumma_line = lineno
            if self._records != 1:
                self._note(Severity.WARNING, "ksumma.position", lineno,
                           "the opening #KSUMMA should come right after #FLAGGA")
            return
        value = fields[1] if len(fields) > 1 else b""
        if not isinstance(value, bytes) or not value.lstrip(b"-").isdigit():
            raise SieSyntaxError(f"#KSUMMA: expected a checksum number, got {value!r}", lineno)
        self.declared_ksumma = int(value)
        if self._crc is None:
            self.ksumma = KSUMMA_MISMATCH
            self._note(Severity.ERROR, "ksumma.unopened", lineno,
                       "closing #KSUMMA without the opening #KSUMMA after #FLAGGA")
            return
        computed, self._crc = self._crc & 0xFFFFFFFF, None
        if computed == self.declared_ksumma % (1 << 32):
            self.ksumma = KSUMMA_OK
        else:
            self.ksumma = KSUMMA_MISMATCH
            self._note(Severity.ERROR, "ksumma.mismatch", lineno,
                       f"#KSUMMA {value.decode()} does not match the content (computed {computed}): "
                       "the file was changed or damaged after export")

    # --- voucher blocks --------------------------------------------------------

    def _open_block(self, lineno: int) -> None:
        if self._head is None:
            raise SieStructureError("'{' without a #VER before it", lineno)
        if self._block_open:
            raise SieStructureError(
                f"'{{' inside the voucher block of #VER on line {self._head.line}", lineno)
        self._block_open = True

    def _close_block(self, lineno: int, out: list[r.Record]) -> None:
        head = self._head
        if head is None or not self._block_open:
            raise SieStructureError("'}' without an open voucher block", lineno)
        if self._pending_added is not None:
            self._unpaired(self._pending_added)
        head.rows = tuple(self._rows)
        out.append(head)
        self._rows.clear()
        self._head = None
        self._block_open = False

    def _fast_row(self, m: re.Match[bytes], lineno: int) -> r.VoucherRow | None:
        """The row of a line `_FAST_ROW` matched; None sends it down the general path."""
        letter, account, objects, amount, day, quoted, bare, quantity, sign_q, sign_b = m.groups()
        if objects:
            objs = self._objects_cache.get(objects) or self._fast_objects(objects, lineno)
            if objs is None:
                return None
        else:
            objs = ()
        # Built field by field instead of through the dataclass __init__, which
        # costs twice as much (its keyword-only `line`): this runs once per row.
        # Every field of VoucherRow is set here.
        row = _new(_VoucherRow)
        row.line = lineno
        row.extra = ()
        row.kind = kind = _ROW_KINDS[letter]
        row.account = self._accounts.get(account) or self._account(account)
        row.objects = objs
        row.amount = Decimal(amount.decode())
        row.date = (
            (self._dates.get(day) or self._convert.date(day, lineno, f"{kind.value} date"))
            if day else None
        )
        row.text = self._fast_text(quoted, bare, lineno) if quoted or bare else ""
        row.quantity = Decimal(quantity.decode()) if quantity else None
        row.sign = self._fast_text(sign_q, sign_b, lineno) if sign_q or sign_b else ""
        return row

    def _account(self, raw: bytes) -> str:
        """An account number (digits) as text, shared between the rows that use it."""
        if len(self._accounts) >= _CACHE_LIMIT:
            self._accounts.clear()
        account = self._accounts[raw] = raw.decode()
        return account

    def _fast_objects(self, objects: bytes, lineno: int) -> r.ObjectList | None:
        """The object list between the braces; None unless its items are plain and pair up.

        Files repeat a few object lists over and over, so ASCII ones are cached
        (others are not: the decoder must see each non-ASCII field to count
        replacement characters).
        """
        if _BACKSLASH in objects or objects.count(b'"') % 2:
            return None  # an escape, or a quoted item holding a brace: the general path
        items = [b if b else q for q, b in _OBJECT_ITEM.findall(objects)]
        if len(items) % 2:
            return None
        decode = self._decode
        objs = tuple(
            (
                items[i].decode("ascii") if items[i].isascii() else decode(items[i], lineno),
                items[i + 1].decode("ascii") if items[i + 1].isascii()
                else decode(items[i + 1], lineno),
            )
            for i in range(0, len(items), 2)
        )
        if objects.isascii():
            if len(self._objects_cache) >= _CACHE_LIMIT:
                self._objects_cache.clear()
            self._objects_cache[objects] = objs
        return objs

    def _fast_text(self, quoted: bytes | None, bare: bytes | None, lineno: int) -> str:
        """A text field `_QUOTED_OR_BARE` matched (both None when the line ends before it)."""
        if quoted:
            if _BACKSLASH in quoted:
                quoted = quoted.replace(b'\\"', b'"')
            return quoted.decode() if quoted.isascii() else self._decode_field(quoted, lineno)
        if bare:
            return bare.decode() if bare.isascii() else self._decode_field(bare, lineno)
        return ""

    def _fast_ver(self, m: re.Match[bytes], lineno: int) -> r.Voucher:
        sq, sb, nq, nb, day, tq, tb, registered, gq, gb = m.groups()
        text = self._fast_text
        dates = self._dates
        head = _new(_Voucher)  # as in _fast_row: every field is set here
        head.line = lineno
        head.extra = ()
        head.series = text(sq, sb, lineno)
        head.number = text(nq, nb, lineno)
        head.date = dates.get(day) or self._convert.date(day, lineno, "#VER date")
        head.text = text(tq, tb, lineno) if tq or tb else ""
        head.registered = (
            (dates.get(registered) or self._convert.date(registered, lineno, "#VER registration date"))
            if registered else None
        )
        head.sign = text(gq, gb, lineno) if gq or gb else ""
        head.rows = ()
        return head

    def _add_row(self, row: r.VoucherRow) -> None:
        """Keep a row; pair each #RTRANS with the #TRANS twin that must follow it."""
        pending = self._pending_added
        if row.kind is r.RowKind.BOOKED:
            if pending is not None:
                self._pending_added = None
                if _same_posting(pending, row):
                    if (pending.date, pending.text, pending.quantity) != (
                        row.date, row.text, row.quantity
                    ):
                        self._note(Severity.WARNING, "rtrans.twin_differs", row.line,
                                   f"#TRANS twin of the #RTRANS on line {pending.line} differs in "
                                   "date, text or quantity; paired by account, objects and amount")
                else:
                    self._unpaired(pending)
        elif row.kind is r.RowKind.ADDED:
            if pending is not None:
                self._unpaired(pending)
            self._pending_added = row
        self._rows.append(row)

    def _unpaired(self, row: r.VoucherRow) -> None:
        self._pending_added = None
        self._note(Severity.WARNING, "rtrans.unpaired", row.line,
                   f"#RTRANS {row.account} {row.amount} is not followed by its identical #TRANS "
                   "twin; it is kept as history and not booked")

    # --- findings --------------------------------------------------------------

    def _note(self, severity: Severity, code: str, line: int, message: str) -> None:
        finding = Finding(severity, code, line, message)
        self.findings.append(finding)
        if self.strict and severity is Severity.ERROR:
            raise SieValidationError(finding)

    def _note_encoding(self) -> None:
        evidence = self._decode.evidence
        if evidence.replacement_fields:
            self._note(Severity.ERROR, "encoding.replacement_characters", evidence.first_replacement_line,
                       f"{evidence.replacement_chars} U+FFFD replacement character(s) in "
                       f"{evidence.replacement_fields} text field(s): letters were lost in a "
                       "conversion before export")
        detected = evidence.detected
        if detected not in ("ascii", "cp437"):
            self._note(Severity.WARNING, "encoding.not_cp437", evidence.first_line[detected],
                       f"the file declares PC8 (CP437) but its text is {detected}; decoded as {detected}")
        for other, count in sorted(evidence.counts.items()):
            if other != detected:
                self._note(Severity.WARNING, "encoding.mixed", evidence.first_line[other],
                           f"{count} text field(s) look like {other} in a {detected} file; "
                           f"decoded as {other}")
        if self._convert.amount_precision_lines:
            lines = self._convert.amount_precision_lines
            self._note(Severity.WARNING, "amount.precision", lines[0],
                       f"{len(lines)} amount(s) have more than two decimals")


def _same_posting(a: r.VoucherRow, b: r.VoucherRow) -> bool:
    return a.account == b.account and a.amount == b.amount and sorted(a.objects) == sorted(b.objects)


_KNOWN_LABELS = frozenset(
    {"#KSUMMA", "#TRANS", "#RTRANS", "#BTRANS", *r.RECORD_TYPES}
)


def parse_records(chunks: Iterable[bytes], *, strict: bool = False) -> tuple[list[r.Record], Parser]:
    """Parse all chunks into a list of records (for documents that fit in memory)."""
    parser = Parser(strict=strict)
    out: list[r.Record] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    out.extend(parser.close())
    return out, parser
