"""Write records as SIE-4 (CP437 bytes), optionally with a #KSUMMA checksum.

The writer is the parser's mirror: `parse_bytes(write(records))` gives back the
same records.  Text is always quoted, `"` is escaped as `\\"`, and trailing
optional fields are left out while an empty field before a later one is
written `""`.  What SIE cannot express (characters outside CP437, control
characters, a quoted text ending in a backslash) raises `SieWriteError` rather
than being silently changed.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal

from . import records as r
from .convert import LAYOUTS
from .errors import SieWriteError

EOL = b"\r\n"
_BARE_SAFE = frozenset(b"!$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                       b"abcdefghijklmnopqrstuvwxyz|~")


class _Field:
    """One field's output: its bytes in the file, and the bytes #KSUMMA covers."""

    __slots__ = ("content", "raw")

    def __init__(self, raw: bytes, content: bytes) -> None:
        self.raw = raw
        self.content = content


_EMPTY = _Field(b'""', b"")


def _text(value: str, what: str) -> _Field:
    try:
        content = value.encode("cp437")
    except UnicodeEncodeError as e:
        raise SieWriteError(
            f"{what}: {value[e.start:e.end]!r} cannot be written in CP437, the only SIE character set"
        ) from None
    if any(b < 32 or b == 127 for b in content):
        raise SieWriteError(f"{what}: control characters are not allowed in SIE text: {value!r}")
    if not content:
        return _EMPTY
    if content.endswith(b"\\"):
        # `"x\"` would read as an escaped quote; such text is only safe unquoted.
        if not any(c in content for c in (b" ", b'"', b"{", b"}")):
            return _Field(content, content)
        raise SieWriteError(f"{what}: a text ending in a backslash can only be written without "
                            f"quotes, and {value!r} needs them")
    return _Field(b'"' + content.replace(b'"', b'\\"') + b'"', content)


def _bare(value: str, what: str) -> _Field:
    """Numbers and codes: bare when they are plain, quoted otherwise."""
    if value and value.isascii() and all(b in _BARE_SAFE for b in value.encode()) \
            and not value.endswith("\\"):
        content = value.encode("ascii")
        return _Field(content, content)
    return _text(value, what)


def _amount(value: Decimal) -> _Field:
    content = format(value, "f").encode("ascii")
    return _Field(content, content)


def _date(value: date) -> _Field:
    content = f"{value.year:04d}{value.month:02d}{value.day:02d}".encode("ascii")
    return _Field(content, content)


def _objects(value: r.ObjectList, what: str) -> _Field:
    parts = []
    content = []
    for dim, obj in value:
        d, o = _bare(dim, what), _text(obj, what)
        parts += [d.raw, o.raw]
        content += [d.content, o.content]
    return _Field(b"{" + b" ".join(parts) + b"}", b"".join(content))


def _value(kind: str, value: object, what: str) -> _Field | None:
    """A field of the given layout kind; None for an absent optional value."""
    if value is None:
        return None
    if kind in ("amount", "quantity"):
        return _amount(value)  # type: ignore[arg-type]
    if kind in ("date", "optional_date"):
        return _date(value)  # type: ignore[arg-type]
    if kind == "objects":
        return _objects(value, what)  # type: ignore[arg-type]
    if kind in ("integer", "year"):
        content = str(value).encode("ascii")
        return _Field(content, content)
    if kind == "period":
        return _bare(value, what)  # type: ignore[arg-type]
    return _text(value, what)  # type: ignore[arg-type]


#: Text fields that hold codes rather than prose, written bare when they can be.
_NUMERIC_TEXT = frozenset({"account", "dimension", "number"})


def _record_fields(record: r.Record) -> list[_Field | None]:
    layout = LAYOUTS.get(record.LABEL)
    if layout is None:
        raise SieWriteError(f"cannot write {type(record).__name__}: not a SIE record")
    _, kinds, mandatory = layout
    fields: list[_Field | None] = []
    values = [getattr(record, name) for name in _attribute_names(type(record))]
    for i, ((name, kind), value) in enumerate(zip(kinds, values, strict=False)):
        what = f"{record.LABEL} {name}"
        if value == "" or value is None:
            fields.append(_EMPTY if i < mandatory else None)
        elif kind == "text" and name in _NUMERIC_TEXT:
            fields.append(_bare(value, what))
        else:
            fields.append(_value(kind, value, what))
    return fields


def _row_fields(row: r.VoucherRow) -> list[_Field | None]:
    what = row.kind.value
    return [
        _bare(row.account, f"{what} account"),
        _objects(row.objects, f"{what} object list"),
        _amount(row.amount),
        _date(row.date) if row.date is not None else None,
        _text(row.text, f"{what} text") if row.text else None,
        _amount(row.quantity) if row.quantity is not None else None,
        _text(row.sign, f"{what} sign") if row.sign else None,
    ]


def _line(label: str, fields: list[_Field | None], extra: tuple[str, ...],
          indent: bytes = b"") -> tuple[bytes, bytes]:
    """The record's line, and the bytes #KSUMMA covers for it."""
    fields = fields + [_text(x, f"{label} extra field") for x in extra]
    while fields and fields[-1] is None:
        fields.pop()
    done = [f if f is not None else _EMPTY for f in fields]
    head = label.encode("ascii")
    raw = b" ".join([indent + head, *(f.raw for f in done)]) + EOL
    return raw, head + b"".join(f.content for f in done)


_ATTRS: dict[type, list[str]] = {}


def _attribute_names(cls: type) -> list[str]:
    """Dataclass fields in declaration order, without the base's line and extra."""
    names = _ATTRS.get(cls)
    if names is None:
        names = [f.name for f in dataclasses.fields(cls) if f.name not in ("line", "extra", "rows")]
        _ATTRS[cls] = names
    return names


def _lines(record: r.Record) -> Iterator[tuple[bytes, bytes]]:
    if isinstance(record, r.UnknownRecord):
        yield _line(record.label, [_text(x, record.label) for x in record.fields], record.extra)
    elif isinstance(record, r.Voucher):
        yield _line(record.LABEL, _record_fields(record), record.extra)
        yield b"{" + EOL, b""
        for row in record.rows:
            yield _line(row.kind.value, _row_fields(row), row.extra, indent=b"   ")
        yield b"}" + EOL, b""
    else:
        yield _line(record.LABEL, _record_fields(record), record.extra)


def iter_write(records: Iterable[r.Record], *, ksumma: bool = False) -> Iterator[bytes]:
    """Yield the file line by line, so that a large export streams.

    With `ksumma=True` the opening #KSUMMA goes right after #FLAGGA (which must
    then come first) and the checksum closes the file.
    """
    crc: int | None = None
    first = True
    for record in records:
        if first and ksumma and not isinstance(record, r.Flag):
            raise SieWriteError("a file with #KSUMMA must start with #FLAGGA")
        for raw, content in _lines(record):
            yield raw
            if crc is not None:
                crc = zlib.crc32(content, crc)
        if first and ksumma:
            yield b"#KSUMMA" + EOL
            crc = 0
        first = False
    if crc is not None:
        yield b"#KSUMMA " + str(crc & 0xFFFFFFFF).encode("ascii") + EOL


def write(records: Iterable[r.Record], *, ksumma: bool = False) -> bytes:
    """The whole file as CP437 bytes."""
    return b"".join(iter_write(records, ksumma=ksumma))
