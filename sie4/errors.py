"""Errors for input that cannot be read as SIE at all.

Everything the parser refuses raises a `SieError` subclass that names the line
and what was expected there; nothing else escapes the parser.  Faults that real
exports contain (unbalanced vouchers, inconsistent balances) are not errors:
they are `Finding`s, unless strict mode turns them into `SieValidationError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .findings import Finding


class SieError(Exception):
    """Base of every error the sie4 package raises on bad input."""

    def __init__(self, message: str, line: int | None = None, source: str | None = None) -> None:
        self.message = message
        self.line = line
        self.source = source
        super().__init__(self._text())

    def _text(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message

    def with_source(self, source: str) -> SieError:
        """Name the file the error came from (the parser itself knows no files)."""
        self.source = source
        self.args = (self._text(),)
        return self


class SieSyntaxError(SieError):
    """A line cannot be tokenised: bad quoting, braces, labels or control bytes."""


class SieStructureError(SieError):
    """Records are out of place: a voucher block that is not opened or closed."""


class SieValueError(SieError):
    """A field has the wrong form: a bad date, amount, year index or number."""


class SieTruncatedError(SieStructureError):
    """The input ends in the middle of something (a voucher block, a line)."""


class SieValidationError(SieError):
    """Strict mode: an error-level finding, raised instead of reported."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        super().__init__(f"{finding.code}: {finding.message}", finding.line)


class SieWriteError(SieError):
    """The writer was asked for something SIE cannot express (not CP437, control bytes)."""
