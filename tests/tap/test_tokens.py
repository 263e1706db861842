"""The token store: atomic 0600 writes, the run-long lock, damaged files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tap_fortnox.errors import FortnoxConfigError
from tap_fortnox.tokens import StoredTokens, TokenStore, TokenStoreLocked, digest


def test_save_is_0600_and_round_trips(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "sub" / "tokens.json")
    store.save(StoredTokens("r1", "a1", 123.0, digest("seed")))
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    loaded = store.load()
    assert loaded is not None
    assert (loaded.refresh_token, loaded.access_token, loaded.expires_at) == ("r1", "a1", 123.0)
    assert loaded.seed_digest == digest("seed")
    assert list(store.path.parent.iterdir()) == [store.path]  # no temp files left behind


def test_save_replaces_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.save(StoredTokens("old"))

    def broken_dump(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("tap_fortnox.tokens.json.dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        store.save(StoredTokens("new"))
    monkeypatch.undo()
    loaded = store.load()
    assert loaded is not None
    assert loaded.refresh_token == "old"  # the old file is intact
    assert len(list(tmp_path.iterdir())) == 1


def test_missing_store_is_none(tmp_path: Path) -> None:
    assert TokenStore(tmp_path / "none.json").load() is None


@pytest.mark.parametrize("content", ["", "{not json", "[]", json.dumps({"access_token": "x"}),
                                     json.dumps({"refresh_token": ""}), json.dumps({"refresh_token": 5})])
def test_damaged_store_is_a_clear_error_without_its_content(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    with pytest.raises(FortnoxConfigError, match="damaged") as info:
        TokenStore(path).load()
    assert "tap-fortnox authorize" in str(info.value)


def test_repr_never_shows_tokens() -> None:
    tokens = StoredTokens("SECRET-REFRESH", "SECRET-ACCESS")
    assert "SECRET" not in repr(tokens)
    assert "SECRET" not in str(tokens)


def test_second_holder_is_refused_at_once(tmp_path: Path) -> None:
    first = TokenStore(tmp_path / "tokens.json")
    first.acquire()
    try:
        with pytest.raises(TokenStoreLocked, match="another tap-fortnox run"):
            TokenStore(tmp_path / "tokens.json").acquire()
        # and from another process too
        code = textwrap.dedent(f"""
            from tap_fortnox.tokens import TokenStore, TokenStoreLocked
            try:
                TokenStore({str(tmp_path / "tokens.json")!r}).acquire()
            except TokenStoreLocked:
                raise SystemExit(3)
        """)
        assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 3
    finally:
        first.release()
    second = TokenStore(tmp_path / "tokens.json")
    second.acquire()  # free again once released
    second.release()
