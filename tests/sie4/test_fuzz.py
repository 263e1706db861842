"""Hostile input: whatever the bytes, sie4 answers with records or a SieError, promptly.

The long campaign (atheris, ten minutes and more) is benchmarks/fuzz_sie4.py; this is
its short version for every CI run.
"""

from __future__ import annotations

import contextlib
import random
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sie4
from sie4.document import validate_chunks

MALFORMED = Path(__file__).parent / "malformed"
ALPHABET = st.sampled_from([b"#", b"{", b"}", b'"', b"\\", b" ", b"\t", b"\n", b"\r\n", b"0", b"9",
                            b"-", b".", b",", b"A", b"\x8f", b"\xc3\xa5", b"\xff", b"\x00",
                            b"#VER", b"#TRANS", b"#RTRANS", b"#BTRANS", b"#KSUMMA", b"#FLAGGA 0\n",
                            b"20250101", b"{}", b'""', b"1910", b"-100.50"])


def _parse_everything(data: bytes) -> None:
    """Parse and validate; only SieError may come out."""
    with contextlib.suppress(sie4.SieError):
        validate_chunks([data])
    with contextlib.suppress(sie4.SieError):
        parser = sie4.Parser()
        for i in range(0, len(data), 97):  # odd chunks: tokens and lines split across feeds
            parser.feed(data[i:i + 97])
        parser.close()


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=200).map(b"".join))
def test_token_soup_raises_only_sie_errors(data: bytes) -> None:
    _parse_everything(data)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_sie_errors(data: bytes) -> None:
    _parse_everything(data)


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(p.name for p in MALFORMED.glob("*.se"))))
def test_mutated_files_raise_only_sie_errors(seed: int, name: str) -> None:
    """Byte flips, cuts and splices of real-shaped files."""
    rnd = random.Random(seed)
    data = bytearray((MALFORMED / name).read_bytes() or b"#FLAGGA 0\n")
    for _ in range(rnd.randint(1, 8)):
        pos = rnd.randrange(len(data) or 1)
        action = rnd.choice(("flip", "cut", "dup", "insert"))
        if action == "flip" and data:
            data[pos] ^= 1 << rnd.randrange(8)
        elif action == "cut":
            del data[pos:pos + rnd.randint(1, 40)]
        elif action == "dup":
            data[pos:pos] = data[pos:pos + rnd.randint(1, 200)]
        else:
            data[pos:pos] = rnd.choice([b'"', b"{", b"}", b"\n", b"\\", b"#VER A 1 20250101\n{\n"])
    _parse_everything(bytes(data))


def test_samples_mutated(samples: Path) -> None:
    rnd = random.Random(7)
    for path in sorted(samples.glob("*.[sS][eEiI]")):
        original = path.read_bytes()
        for _ in range(25):
            data = bytearray(original)
            for _ in range(rnd.randint(1, 20)):
                pos = rnd.randrange(len(data))
                data[pos] = rnd.randrange(256)
            _parse_everything(bytes(data))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_100_mb_line_fails_fast_in_bounded_memory() -> None:
    parser = sie4.Parser()  # default max_line_bytes: 1 MiB
    parser.feed(b"#FLAGGA 0\n#PROSA ")
    chunk = b"x" * (1 << 20)
    before, started = _peak_mb(), time.monotonic()
    with pytest.raises(sie4.SieSyntaxError, match="longer than"):
        for _ in range(100):
            parser.feed(chunk)
    assert time.monotonic() - started < 5
    assert _peak_mb() - before < 50


def test_a_record_with_a_quarter_million_fields() -> None:
    line = b"#MYLABEL " + b"a " * 250_000 + b"\n"
    parser = sie4.Parser()
    started = time.monotonic()
    records = parser.feed(b"#FLAGGA 0\n" + line) + parser.close()
    assert time.monotonic() - started < 10
    assert len(records[-1].fields) == 250_000


@pytest.mark.parametrize("opener", [b"{", b'{"'])
def test_deep_braces_are_refused_at_once(opener: bytes) -> None:
    data = b"#FLAGGA 0\n#VER A 1 20250101\n{\n#TRANS 1910 " + opener * 100_000 + b"\n}\n"
    started = time.monotonic()
    with pytest.raises(sie4.SieSyntaxError):
        sie4.parse_bytes(data)
    assert time.monotonic() - started < 5


def test_many_backslash_quotes_do_not_backtrack_forever() -> None:
    data = b'#FLAGGA 0\n#PROSA "' + b'\\"' * 200_000 + b"\n"
    started = time.monotonic()
    records = sie4.parse_bytes(data).records  # reads as one text ending in a backslash
    assert time.monotonic() - started < 5
    assert records[-1].text.endswith("\\")
