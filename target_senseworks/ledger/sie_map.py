"""How SIE fields map onto the ledger, in both directions (load and export agree here).

- Voucher numbers: the integer when the file writes a plain one ("12", "007"),
  else NULL; the text as written is always kept (`number_text`).  A number an
  earlier voucher of the same series already had gets the next `occurrence`.
- Objects: dimension 1 is the cost centre and 6 the project (SIE's reserved
  dimensions, and how Fortnox exports them); objects of other dimensions are
  kept as a list in file order.
- A row's text is its transaction information (Fortnox's meaning of the #TRANS
  text); its description is the account's #KONTO name, as Fortnox fills it.
- A quantity of zero is no quantity (Fortnox's reading; Visma writes 0.00 on every
  row), and quantities lose trailing zeros, so a year reads the same whichever
  source it came from.
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal

from sie4 import records as r

COST_CENTER_DIM = "1"
PROJECT_DIM = "6"

_PLAIN_NUMBER = re.compile(r"[0-9]{1,18}")


def voucher_number(text: str) -> int | None:
    """The integer a voucher number stands for, or None ("", "A-12", 19+ digits)."""
    return int(text) if _PLAIN_NUMBER.fullmatch(text) else None


def quantity(value: Decimal | None) -> Decimal | None:
    """None for no quantity or zero; otherwise without trailing zeros (2.500 -> 2.5, 10 -> 10)."""
    if not value:
        return None
    q = value.normalize()
    return q.quantize(Decimal(1)) if q.as_tuple().exponent > 0 else q  # type: ignore[operator]


def split_objects(objects: r.ObjectList) -> tuple[str | None, str | None, list[list[str]] | None]:
    """(cost centre, project, other objects): the first of dimension 1 and 6, the rest kept."""
    cost_center = project = None
    others: list[list[str]] = []
    for dim, obj in objects:
        if dim == COST_CENTER_DIM and cost_center is None:
            cost_center = obj
        elif dim == PROJECT_DIM and project is None:
            project = obj
        else:
            others.append([dim, obj])
    return cost_center, project, others or None


def join_objects(cost_center: str | None, project: str | None,
                 others: list[list[str]] | None) -> r.ObjectList:
    """The object list `split_objects` came from (cost centre and project first)."""
    out: list[tuple[str, str]] = []
    if cost_center is not None:
        out.append((COST_CENTER_DIM, cost_center))
    if project is not None:
        out.append((PROJECT_DIM, project))
    out += [(str(d), str(o)) for d, o in others or ()]
    return tuple(out)


class Occurrences:
    """Counts how often each (series, number) has come so far, in little memory.

    Plain numbers are kept per series as sorted runs (ascending numbers, the usual
    case, cost one comparison); only repeats and non-integer numbers take a dict entry.
    """

    def __init__(self) -> None:
        self._firsts: dict[str, list[int]] = {}
        self._lasts: dict[str, list[int]] = {}
        self._repeats: dict[tuple[str, str], int] = {}

    def next(self, series: str, number: int | None, text: str) -> int:
        """1 for the first voucher with this number in its series, then 2, 3, ..."""
        if number is None or str(number) != text:
            key = (series, text)
            n = self._repeats.get(key, 0) + 1
            self._repeats[key] = n
            return n
        if self._add(series, number):
            return 1
        key = (series, text)
        n = self._repeats.get(key, 1) + 1
        self._repeats[key] = n
        return n

    def _add(self, series: str, n: int) -> bool:
        firsts = self._firsts.setdefault(series, [])
        lasts = self._lasts.setdefault(series, [])
        if lasts and lasts[-1] == n - 1:
            lasts[-1] = n
            return True
        i = bisect.bisect_right(firsts, n) - 1
        if i >= 0 and firsts[i] <= n <= lasts[i]:
            return False
        if i >= 0 and lasts[i] == n - 1:
            lasts[i] = n
            if i + 1 < len(firsts) and firsts[i + 1] == n + 1:
                lasts[i] = lasts.pop(i + 1)
                firsts.pop(i + 1)
        elif i + 1 < len(firsts) and firsts[i + 1] == n + 1:
            firsts[i + 1] = n
        else:
            firsts.insert(i + 1, n)
            lasts.insert(i + 1, n)
        return True
