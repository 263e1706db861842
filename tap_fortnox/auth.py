"""Access tokens for one Fortnox tenant, shared by every stream and worker of a run.

Two ways in:

- client credentials (`client_id`, `client_secret`, `tenant_id`): a token is
  asked for whenever one is needed; nothing rotates, nothing to store;
- authorization code with a rotating refresh token: the chain starts from the
  config's `refresh_token` (or from `tap-fortnox authorize`) and every rotated
  token goes straight to the token store.

The access token is renewed before it expires and once more when Fortnox
answers 401.  A lock makes concurrent workers wait for one refresh instead of
each spending the single-use refresh token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import backoff
import requests
import urllib3

from .errors import FortnoxAuthError, FortnoxConfigError, RetriableError, scrub
from .tokens import StoredTokens, TokenStore, digest

TOKEN_TRIES = 4
RECONSENT = (
    "The Fortnox connection must be consented to again: run `tap-fortnox authorize --config ...` "
    "(or ask the company's Fortnox administrator to approve the integration again) and retry."
)


@dataclass
class _Token:
    value: str
    expires_at: float
    lifetime: float


class FortnoxAuthenticator:
    """Gives out a valid bearer token; refreshes it under a lock."""

    def __init__(self, *, auth_url: str, client_id: str, client_secret: str,
                 tenant_id: str | int | None = None, refresh_token: str | None = None,
                 store: TokenStore | None = None, session: requests.Session | None = None,
                 timeout: float = 30.0) -> None:
        if not client_id or not client_secret:
            raise FortnoxConfigError("client_id and client_secret are required")
        self.token_url = auth_url.rstrip("/") + "/token"
        self.client_id = client_id
        self._client_secret = client_secret
        self.tenant_id = str(tenant_id) if tenant_id not in (None, "") else None
        self._seed = refresh_token or None
        self.store = store
        self.session = session or requests.Session()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._tokens: StoredTokens | None = None
        self._interrupted_before = 0.0  # a refresh a previous run never finished (epoch s)
        self.refreshes = 0
        if self.tenant_id is None and self.store is None:
            raise FortnoxConfigError(
                "no way to authenticate: set tenant_id (client credentials, for a service account) "
                "or token_store_path (with refresh_token, or after `tap-fortnox authorize`)")

    @property
    def mode(self) -> str:
        return "client_credentials" if self.tenant_id is not None else "refresh_token"

    def __repr__(self) -> str:
        return f"FortnoxAuthenticator(mode={self.mode}, client_id={self.client_id!r})"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Claim the credential for this run (refresh-token mode holds the store's lock)."""
        if self.mode == "refresh_token" and self.store is not None and not self.store.locked:
            self.store.acquire()
            self._tokens = self._initial_tokens()
            self._interrupted_before = self._tokens.refresh_started_at
            if self._tokens.access_token and self._tokens.expires_at > time.time():
                lifetime = max(self._tokens.expires_at - time.time(), 1.0)
                self._token = _Token(self._tokens.access_token, self._tokens.expires_at, lifetime)

    def stop(self) -> None:
        if self.store is not None:
            self.store.release()

    def _initial_tokens(self) -> StoredTokens:
        assert self.store is not None
        stored = self.store.load()
        if stored is not None and (self._seed is None or stored.seed_digest == digest(self._seed)):
            return stored
        if self._seed is None:
            raise FortnoxConfigError(
                f"no refresh token: the token store {self.store.path} does not exist and no "
                "refresh_token is configured. Run `tap-fortnox authorize --config ...` first.")
        # A refresh token the store has not seen: a new consent starts a new chain.
        return StoredTokens(refresh_token=self._seed, seed_digest=digest(self._seed))

    # --- tokens ------------------------------------------------------------------------

    def access_token(self) -> str:
        token = self._token
        if token is not None and time.time() < token.expires_at - self._margin(token):
            return token.value
        with self._lock:
            token = self._token
            if token is None or time.time() >= token.expires_at - self._margin(token):
                token = self._renew()
            return token.value

    def invalidate(self, value: str) -> None:
        """Fortnox rejected `value` (401): renew on next use, unless another worker already did."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    @staticmethod
    def _margin(token: _Token) -> float:
        return min(60.0, token.lifetime * 0.2)

    def _renew(self) -> _Token:
        if self.mode == "client_credentials":
            body = self._post({"grant_type": "client_credentials"}, {"TenantId": self.tenant_id or ""})
        else:
            if self._tokens is None:
                self.start()
            assert self._tokens is not None
            assert self.store is not None
            self._tokens.refresh_started_at = time.time()
            self.store.save(self._tokens)
            try:
                body = self._post({"grant_type": "refresh_token",
                                   "refresh_token": self._tokens.refresh_token})
            except FortnoxAuthError as e:
                if not self._interrupted_before:
                    raise
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._interrupted_before))
                raise FortnoxAuthError(
                    f"{e} A previous run was stopped during a token refresh started at {when}; "
                    "Fortnox had already rotated the token it sent, so the stored one is spent."
                ) from None
            rotated = body.get("refresh_token")
            if not isinstance(rotated, str) or not rotated:
                raise FortnoxAuthError(
                    f"POST {self.token_url}: the refresh answer carried no new refresh token; the "
                    f"old one is spent. {RECONSENT}")
            self._tokens.refresh_token = rotated
            self._tokens.refresh_started_at = 0.0
            self._interrupted_before = 0.0
            self._tokens.access_token = str(body["access_token"])
            self._tokens.expires_at = time.time() + _lifetime(body)
            self.store.save(self._tokens)  # before anything else can go wrong
        self.refreshes += 1
        lifetime = _lifetime(body)
        self._token = _Token(str(body["access_token"]), time.time() + lifetime, lifetime)
        return self._token

    def _post(self, data: dict[str, str], headers: dict[str, str] | None = None) -> dict:
        try:
            return self._post_with_retries(data, headers or {})
        except RetriableError as e:
            # Final: the connection must not retry a request whose token it cannot get.
            raise FortnoxAuthError(f"{e} (gave up after {TOKEN_TRIES} tries)") from None

    @backoff.on_exception(backoff.expo, RetriableError, max_tries=lambda: TOKEN_TRIES, factor=0.5,
                          max_value=8, jitter=backoff.full_jitter)
    def _post_with_retries(self, data: dict[str, str], headers: dict[str, str]) -> dict:
        call = f"POST {self.token_url} ({data['grant_type']})"
        try:
            response = self.session.post(self.token_url, data=data, headers=headers,
                                         auth=(self.client_id, self._client_secret), timeout=self.timeout)
        except requests.ConnectionError as e:
            # A refresh that may have reached Fortnox must not be repeated: the token it spent is
            # gone. Client credentials, or a refresh that never left, can simply be tried again.
            if data["grant_type"] != "refresh_token" or _never_sent(e):
                raise RetriableError(f"{call}: cannot connect") from None
            raise FortnoxAuthError(f"{call}: the connection broke during the token request. "
                                   f"If this was a refresh, the token may have rotated unseen. "
                                   f"{RECONSENT}") from None
        except requests.Timeout:
            raise FortnoxAuthError(f"{call}: no answer within {self.timeout} s") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetriableError(f"{call}: HTTP {response.status_code}", status=response.status_code)
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            if error == "invalid_grant":
                raise FortnoxAuthError(
                    f"{call}: Fortnox says the refresh token is invalid (invalid_grant): it was "
                    f"already used, expired (45 days) or revoked. {RECONSENT}")
            if error in ("invalid_client", "unauthorized_client"):
                raise FortnoxAuthError(f"{call}: Fortnox refused client_id/client_secret ({error}). "
                                       "Check them in the Fortnox Developer Portal.")
            raise FortnoxAuthError(
                f"{call}: HTTP {response.status_code}: {scrub(response.text)}")
        return body


def _never_sent(error: BaseException) -> bool:
    """True when the request failed while connecting, before a byte reached the server."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    seen: list[BaseException] = [error]
    while seen:
        e = seen.pop()
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            return True
        seen += [a for a in e.args if isinstance(a, BaseException)]
        if isinstance(e, urllib3.exceptions.MaxRetryError) and e.reason is not None:
            seen.append(e.reason)
    return False


def _lifetime(body: dict) -> float:
    try:
        return max(float(body.get("expires_in", 3600)), 1.0)
    except (TypeError, ValueError):
        return 3600.0
