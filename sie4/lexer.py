"""Split one SIE record line (bytes) into its fields.

Tokenising happens on bytes, before any decoding: every delimiter SIE uses is
ASCII, so this is safe whatever the text encoding turns out to be, and the
#KSUMMA checksum is defined over exactly these field bytes.
"""

from __future__ import annotations

import re

from .errors import SieSyntaxError

#: A field is an empty object list, a quoted string, a bare word or a lone
#: delimiter (a brace of a non-empty object list, or an unterminated quote).
#: In a quoted string `\"` is an escaped quote; a backslash anywhere else is a
#: literal character (the standard defines no other escape).  If the greedy
#: reading leaves a quoted field unterminated, the regex backtracks so that a
#: field ending in a backslash (`"C:\dir\"`) still reads; the backtracking is
#: linear because each `\"` can only end the field or be an escape.
_TOKEN = re.compile(rb'[ \t]*(\{[ \t]*\}|"(?:[^"\\]|\\"|\\)*"|[^ \t"{}]+|["{}])')

#: A field is `bytes`; an object list is a `list` of its member fields.
Field = bytes | list[bytes]

_QUOTE, _OPEN, _CLOSE = ord('"'), ord("{"), ord("}")


def split_fields(line: bytes, lineno: int) -> list[Field]:
    """Fields of a stripped record line, label first, quotes and escapes removed."""
    out: list[Field] = []
    objects: list[bytes] | None = None
    for token in _TOKEN.findall(line):
        first = token[0]
        tok = token
        if first == _QUOTE:
            if len(tok) == 1:
                raise SieSyntaxError("unterminated quoted field: a '\"' without its closing quote", lineno)
            tok = tok[1:-1]
            if b'\\"' in tok:
                tok = tok.replace(b'\\"', b'"')
        elif first == _OPEN:
            if objects is not None:
                raise SieSyntaxError("'{' inside an object list: object lists do not nest", lineno)
            if len(tok) > 1:  # "{}": an empty object list
                out.append([])
            else:
                objects = []
            continue
        elif first == _CLOSE:
            if objects is None:
                raise SieSyntaxError("'}' without a '{' before it on this line", lineno)
            out.append(objects)
            objects = None
            continue
        if objects is None:
            out.append(tok)
        else:
            objects.append(tok)
    if objects is not None:
        raise SieSyntaxError("object list '{' is not closed with '}' on this line", lineno)
    return out


def flatten(fields: list[Field]) -> bytes:
    """The bytes #KSUMMA covers for one record: every field's content, back to back."""
    return b"".join(b"".join(f) if isinstance(f, list) else f for f in fields)
