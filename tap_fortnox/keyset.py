"""Sets of voucher keys as compact per-series ranges: the snapshot record and the bookmark.

A year of 20,000 vouchers numbered without gaps is a handful of `[first, last]`
pairs, so the deletion contract and the STATE stay small whatever the year's size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

VoucherKey = tuple[str, int]  # (series, number) within one financial year
Ranges = dict[str, list[list[int]]]


def to_ranges(keys: Iterable[VoucherKey]) -> Ranges:
    """{series: [[first, last], ...]} with inclusive, sorted, non-adjacent runs."""
    numbers: dict[str, list[int]] = defaultdict(list)
    for series, number in keys:
        numbers[series].append(number)
    out: Ranges = {}
    for series in sorted(numbers):
        runs: list[list[int]] = []
        for n in sorted(set(numbers[series])):
            if runs and n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        out[series] = runs
    return out


def from_ranges(ranges: Mapping[str, Sequence[Sequence[int]]]) -> set[VoucherKey]:
    return {(series, n) for series, runs in ranges.items() for first, last in runs
            for n in range(int(first), int(last) + 1)}


def count(ranges: Mapping[str, Sequence[Sequence[int]]]) -> int:
    return sum(int(last) - int(first) + 1 for runs in ranges.values() for first, last in runs)


def as_records(ranges: Ranges) -> list[dict[str, object]]:
    """The snapshot record's `series` list: [{"code": "A", "ranges": [[1, 120]]}, ...]."""
    return [{"code": series, "ranges": runs} for series, runs in sorted(ranges.items())]
