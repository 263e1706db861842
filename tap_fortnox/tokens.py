"""The durable home of a rotating Fortnox refresh token.

Fortnox refresh tokens are single-use: every refresh returns a new one and
kills the old.  Lose the new one and the customer must consent again.  So the
store is written the moment a token arrives (temp file, fsync, rename, mode
0600, directory fsync), lives outside Meltano's throw-away config files, and is
guarded by a lock held for the whole run so that two runs on one credential
never refresh concurrently.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import FortnoxConfigError


@dataclass
class StoredTokens:
    refresh_token: str
    access_token: str = ""
    expires_at: float = 0.0  # epoch seconds
    seed_digest: str = ""  # sha256 of the config refresh token the chain started from
    updated_at: float = 0.0
    # Set while a refresh is in flight: if the run dies before the answer is stored,
    # Fortnox may already have spent the stored token, and the next run can say so.
    refresh_started_at: float = 0.0

    def __repr__(self) -> str:  # never show tokens, not even in a debugger or a traceback
        return f"StoredTokens(expires_at={self.expires_at}, updated_at={self.updated_at})"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStoreLocked(FortnoxConfigError):
    """Another run holds the credential: refreshing now would break its token chain."""


class TokenStore:
    """A JSON file holding the current tokens, plus a `.lock` file held while in use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_fd: int | None = None

    # --- the run-long lock -----------------------------------------------------

    def acquire(self) -> None:
        """Take the lock or fail at once: the second run on a credential must not wait and refresh."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TokenStoreLocked(
                f"another tap-fortnox run is using the token store {self.path} (lock {self.lock_path} "
                "is held). Runs on one Fortnox credential must not overlap: a second refresh would "
                "invalidate the first run's token. Wait for it to finish, or give each company its "
                "own token_store_path."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    # --- contents ----------------------------------------------------------------

    def load(self) -> StoredTokens | None:
        """The stored tokens, None when there is no store yet; a damaged file is a clear error."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise FortnoxConfigError(f"cannot read the token store {self.path}: {e.strerror}") from None
        try:
            data = json.loads(raw)
            tokens = StoredTokens(**{k: data[k] for k in StoredTokens.__dataclass_fields__ if k in data})
            if not isinstance(tokens.refresh_token, str) or not tokens.refresh_token:
                raise ValueError("no refresh_token")
        except (ValueError, TypeError, KeyError) as e:
            raise FortnoxConfigError(
                f"the token store {self.path} is damaged ({type(e).__name__}); it was not written by "
                "tap-fortnox or was edited by hand. Run `tap-fortnox authorize` to create a new "
                "connection, or remove the file and set a fresh refresh_token in the config."
            ) from None
        return tokens

    def save(self, tokens: StoredTokens) -> None:
        """Write atomically: a reader, or a crash, sees the old file or the new one, never half."""
        tokens.updated_at = time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(asdict(tokens), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
