"""Every HTTP call of a run goes through one `FortnoxConnection`.

It owns what must be shared for the limits to hold: one requests session, one
authenticator, one sliding-window limiter and one bounded worker pool.  It
retries what is worth retrying (429 honouring Retry-After, 5xx, timeouts,
dropped connections) with backoff, fails fast on other 4xx with a message a
person can act on, and counts requests per endpoint for the end-of-run log.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

import backoff
import requests
from requests.adapters import HTTPAdapter

from .auth import FortnoxAuthenticator
from .errors import FortnoxAPIError, RetriableError, explain, scrub
from .ratelimit import SlidingWindowLimiter

T = TypeVar("T")
R = TypeVar("R")
PAGE_SIZE = 500  # Fortnox's maximum `limit`

logger = logging.getLogger("tap_fortnox")


@dataclass
class Page:
    """One page of a list: its items, Fortnox's @TotalResources, the server's clock, and
    whether it is the last page."""

    items: list[dict[str, Any]]
    total: int | None
    server_time: datetime | None
    last: bool = True


class RequestStats:
    """What the run cost: requests per endpoint, retries, 429s, limiter waits."""

    def __init__(self) -> None:
        self.by_endpoint: Counter[str] = Counter()
        self.retries = 0
        self.throttled = 0
        self._lock = threading.Lock()

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.by_endpoint[endpoint] += 1

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())


class FortnoxConnection:
    def __init__(self, *, api_url: str, authenticator: FortnoxAuthenticator,
                 limiter: SlidingWindowLimiter, timeout: float = 60.0, max_concurrency: int = 4,
                 max_tries: int = 8, session: requests.Session | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth = authenticator
        self.limiter = limiter
        self.timeout = timeout
        self.max_concurrency = max(1, max_concurrency)
        self.max_tries = max_tries
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.max_concurrency + 2)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "tap-fortnox"
        self.stats = RequestStats()
        self._request = backoff.on_exception(
            self._wait_times, RetriableError, max_tries=lambda: self.max_tries, jitter=None,
            on_backoff=self._on_retry, on_giveup=self._on_giveup,
        )(self._request_once)

    # --- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        self.auth.start()

    def close(self) -> None:
        self.auth.stop()
        self.session.close()

    def summary(self) -> str:
        stats = self.stats
        parts = ", ".join(f"{endpoint} {n}" for endpoint, n in sorted(stats.by_endpoint.items()))
        return (f"{stats.total} requests ({parts or 'none'}); {stats.retries} retried, "
                f"{stats.throttled} answered 429; waited {self.limiter.waited:.1f} s for the rate "
                f"limit in {self.limiter.waits} waits; {self.auth.refreshes} token refreshes")

    # --- requests ------------------------------------------------------------------------

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                endpoint: str | None = None, stream: bool = False,
                accept: str = "application/json") -> requests.Response:
        """One call, retried as needed; raises `FortnoxAPIError` when it cannot succeed."""
        try:
            return self._request(method, path, params, endpoint or path, stream, accept)
        except RetriableError as e:
            raise FortnoxAPIError(f"{e} (gave up after {self.max_tries} tries)", status=e.status,
                                  path=path) from None

    def get_json(self, path: str, params: dict[str, Any] | None = None, *,
                 endpoint: str | None = None) -> dict[str, Any]:
        return self.get_json_dated(path, params, endpoint=endpoint)[0]

    def get_json_dated(self, path: str, params: dict[str, Any] | None = None, *,
                       endpoint: str | None = None) -> tuple[dict[str, Any], datetime | None]:
        """The JSON body and Fortnox's own clock (the `Date` header), for incremental cut-offs."""
        response = self.request("GET", path, params, endpoint=endpoint)
        try:
            body = response.json(parse_float=Decimal)
        except (ValueError, RecursionError):  # malformed, or nested beyond any real answer
            kind = response.headers.get("Content-Type", "unknown content")
            raise FortnoxAPIError(f"GET {path}: expected JSON, got {kind}: {scrub(response.text, 120)}",
                                  status=response.status_code, path=path) from None
        if not isinstance(body, dict):
            raise FortnoxAPIError(f"GET {path}: expected a JSON object, got {type(body).__name__}",
                                  path=path)
        return body, server_time(response)

    def pages(self, path: str, root: str, params: dict[str, Any] | None = None, *,
              endpoint: str | None = None, limit: int = PAGE_SIZE) -> Iterator[Page]:
        """Every page of a paginated list, `limit` items at a time, until the last page."""
        page = 1
        while True:
            body, when = self.get_json_dated(path, {**(params or {}), "limit": limit, "page": page},
                                             endpoint=endpoint)
            items = body.get(root)
            if not isinstance(items, list):
                raise FortnoxAPIError(f"GET {path}: the answer has no '{root}' list "
                                      f"(keys: {', '.join(sorted(body))[:200]})", path=path)
            meta = body.get("MetaInformation") or {}
            last = page >= (_int(meta.get("@TotalPages")) or 1) or not items
            yield Page(items, _int(meta.get("@TotalResources")), when, last)
            if last:
                return
            page += 1

    def paginate(self, path: str, root: str, params: dict[str, Any] | None = None, *,
                 endpoint: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, fetched 500 at a time until the last page."""
        for page in self.pages(path, root, params, endpoint=endpoint):
            yield from page.items

    def _request_once(self, method: str, path: str, params: dict[str, Any] | None, endpoint: str,
                      stream: bool, accept: str) -> requests.Response:
        call = f"{method} {path}"
        for auth_try in (1, 2):
            self.limiter.acquire()
            token = self.auth.access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            self.stats.count(endpoint)
            try:
                response = self.session.request(method, self.api_url + path, params=params,
                                                headers=headers, timeout=self.timeout, stream=stream)
            except requests.Timeout:
                raise RetriableError(f"{call}: no answer within {self.timeout} s") from None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
                raise RetriableError(f"{call}: connection failed ({type(e).__name__})") from None
            status = response.status_code
            if status == 401 and auth_try == 1:
                response.close()
                self.auth.invalidate(token)  # expired early or revoked: one fresh token, one retry
                continue
            break
        if status < 400:
            return response
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status == 429:
            self.stats.throttled += 1
            pause = retry_after if retry_after is not None else self.limiter.window
            self.limiter.penalise(pause)
            raise RetriableError(f"{call}: HTTP 429 too many requests", retry_after=0.0, status=429)
        if status >= 500 or status == 408:
            text = _body(response)
            raise RetriableError(f"{call}: HTTP {status}: {scrub(text, 120)}", retry_after=retry_after,
                                 status=status)
        code, message = _error_information(response)
        raise FortnoxAPIError(explain(method, path, status, code, message, _body(response)),
                              status=status, code=code, path=path)

    # --- retries ------------------------------------------------------------------------

    def _wait_times(self) -> Iterator[float]:
        """backoff's wait generator: Retry-After when given, else exponential with jitter."""
        error: RetriableError | None = yield 0.0  # primed by backoff with None
        attempt = 0
        while True:
            if error is not None and error.retry_after is not None:
                delay = error.retry_after  # 429 waits inside the limiter, which was penalised
            else:
                delay = min(30.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
            attempt += 1
            error = yield delay

    def _on_retry(self, details: dict[str, Any]) -> None:
        self.stats.retries += 1
        error = details.get("exception")
        logger.warning("retry %d of %s in %.1f s: %s", details["tries"], details["target"].__name__,
                       details["wait"], error)

    def _on_giveup(self, details: dict[str, Any]) -> None:
        logger.error("giving up after %d tries: %s", details["tries"], details.get("exception"))

    # --- the worker pool ----------------------------------------------------------------------

    @contextmanager
    def parallel(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Iterator[R]]:
        """`fn` over `items` on at most `max_concurrency` threads, results in input order.

            with connection.parallel(download, files) as results:
                for result in results: ...

        Submission runs at most two batches ahead of the consumer, so memory stays
        bounded however many items there are; all requests still pass the one limiter.
        Leaving the block, however it is left (done, an error, the consumer stopping
        early), cancels what has not started and waits for what has: no request outlives
        it. A bare generator could not promise that: it is only closed when collected.
        """
        if self.max_concurrency == 1:
            yield map(fn, items)
            return
        pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="fortnox")

        def results() -> Iterator[R]:
            pending: deque[Future[R]] = deque()
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * self.max_concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

        try:
            yield results()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def server_time(response: requests.Response) -> datetime | None:
    """Fortnox's clock from the `Date` header (UTC), or None when absent or unreadable."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _body(response: requests.Response) -> str:
    try:
        return response.text[:2000]
    except Exception:  # a body that cannot even be decoded says nothing useful
        return ""


def _error_information(response: requests.Response) -> tuple[int | None, str]:
    """Fortnox's error code and message, from whichever shape the endpoint uses."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    info = body.get("ErrorInformation") or body.get("errorInformation") or body
    if not isinstance(info, dict):
        return None, ""
    code = info.get("code", info.get("Code"))
    message = info.get("message", info.get("Message", ""))
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return code, scrub(str(message or ""), 200)
