"""JSON text with exact Decimal numbers.

The stdlib encoder only knows floats; converting money to float would make the sandbox
lie about amounts. This small encoder writes `Decimal` as its plain decimal text
(`Decimal("1234.50")` → `1234.50`) and refuses floats outright.
"""

from __future__ import annotations

from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"non-finite Decimal cannot be JSON: {value}")
    return format(value, "f")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"not JSON-encodable here (floats are refused): {type(value).__name__}")


def dumps(value: Any) -> str:
    """Compact JSON text; Decimals exact, floats rejected."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def dumpb(value: Any) -> bytes:
    """`dumps` as UTF-8 bytes, ready for an HTTP body."""
    return dumps(value).encode("utf-8")
