"""Decode text fields, and notice when a file is not really CP437.

SIE declares `#FORMAT PC8` (code page 437), but real exports are sometimes UTF-8
or Latin-1 while declaring PC8, or mix in a stray Latin-1 byte.  The three are
easy to tell apart field by field for Swedish text: CP437 puts å ä ö Å Ä Ö é
in 0x80-0x9F, where Latin-1 has only control codes and UTF-8 only continuation
bytes; UTF-8 letters are a lead byte 0xC2-0xF4 followed by continuation bytes;
Latin-1 letters sit in 0xC0-0xFF.  Each field is decoded the way it was most
plausibly written, and the evidence is kept for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CP437 = "cp437"
UTF8 = "utf-8"
LATIN1 = "latin-1"
ASCII = "ascii"

_CP437_LETTERS = re.compile(rb"[\x80-\x9f]")
_LATIN1_LETTERS = re.compile(rb"[\xc0-\xff]")
_CACHE_LIMIT = 65536


@dataclass
class EncodingEvidence:
    """How many distinct non-ASCII field values looked like each encoding, and where first.

    Replacement characters are counted per occurrence: each is a lost letter.
    """

    counts: dict[str, int] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    replacement_fields: int = 0
    replacement_chars: int = 0
    first_replacement_line: int = 0

    def note(self, encoding: str, line: int) -> None:
        self.counts[encoding] = self.counts.get(encoding, 0) + 1
        self.first_line.setdefault(encoding, line)

    @property
    def detected(self) -> str:
        """The file's encoding as far as its text shows: the dominant kind."""
        if not self.counts:
            return ASCII
        return max(self.counts, key=lambda k: (self.counts[k], k == CP437))


def guess(raw: bytes) -> str:
    """The encoding a non-ASCII field was most plausibly written in."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return UTF8
    if _CP437_LETTERS.search(raw) is None and _LATIN1_LETTERS.search(raw) is not None:
        return LATIN1
    return CP437


class TextDecoder:
    """Decodes field bytes to `str`, remembering what each field looked like."""

    def __init__(self) -> None:
        self.evidence = EncodingEvidence()
        self._cache: dict[bytes, str] = {}

    def __call__(self, raw: bytes, line: int) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        text = self._cache.get(raw)
        if text is None:
            encoding = guess(raw)
            text = raw.decode(encoding)
            self.evidence.note(encoding, line)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[raw] = text
        if "\ufffd" in text:
            evidence = self.evidence
            evidence.replacement_fields += 1
            evidence.replacement_chars += text.count("\ufffd")
            if not evidence.first_replacement_line:
                evidence.first_replacement_line = line
        return text
