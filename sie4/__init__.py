"""sie4: a strict, streaming SIE-4 parser, validator and writer (standard library only).

Bytes in, typed records out: `Parser` is sans-I/O (feed bytes, get records);
`Validator` runs the consumer checks over the record stream; `write` turns
records back into CP437 bytes.  `sie4.files` holds the only file helpers.
"""

from .document import SieDocument, iter_records, parse_and_validate, parse_bytes, validate_chunks
from .errors import (
    SieError,
    SieStructureError,
    SieSyntaxError,
    SieTruncatedError,
    SieValidationError,
    SieValueError,
    SieWriteError,
)
from .findings import Finding, Severity
from .parser import KSUMMA_ABSENT, KSUMMA_MISMATCH, KSUMMA_OK, KSUMMA_TRUNCATED, Parser
from .records import *  # noqa: F403 - the record types are the package's vocabulary
from .records import RECORD_TYPES, Record, RowKind, Voucher, VoucherRow
from .validate import Report, Validator
from .writer import iter_write, write

__all__ = [
    "KSUMMA_ABSENT", "KSUMMA_MISMATCH", "KSUMMA_OK", "KSUMMA_TRUNCATED", "RECORD_TYPES",
    "Finding", "Parser", "Record", "Report", "RowKind", "Severity", "SieDocument", "SieError",
    "SieStructureError", "SieSyntaxError", "SieTruncatedError", "SieValidationError",
    "SieValueError", "SieWriteError", "Validator", "Voucher", "VoucherRow", "iter_records",
    "iter_write", "parse_and_validate", "parse_bytes", "validate_chunks", "write",
]
