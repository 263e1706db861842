"""Fortnox errors as messages a person can act on, with secrets kept out.

Fortnox answers with Swedish messages and numeric codes; a user needs to know
which scope to add, which module to license, or that the connection needs a new
consent.  Every message names the HTTP call (method and path) and never holds
a token: response bodies are trimmed and scrubbed before they are shown.
"""

from __future__ import annotations

import re

#: Which scope each API area needs (Fortnox "Scopes" page, reference section 1.5).
SCOPE_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/3/companyinformation", "companyinformation"),
    ("/3/settings", "settings"),
    ("/3/financialyears", "bookkeeping"),
    ("/3/accounts", "bookkeeping"),
    ("/3/voucherseries", "bookkeeping"),
    ("/3/vouchers", "bookkeeping"),
    ("/3/sie", "bookkeeping"),
    ("/3/voucherfileconnections", "connectfile"),
    ("/3/supplierinvoicefileconnections", "connectfile"),
    ("/3/supplierinvoices", "supplierinvoice"),
    ("/3/invoices", "invoice"),
    ("/3/archive", "archive"),
    ("/3/inbox", "inbox"),
    ("/api/fileattachments", "invoice"),  # [UNCERTAIN] not in the captured scope table
)

#: Which Fortnox module a licence error most likely refers to, by API area.
MODULE_BY_SCOPE = {
    "bookkeeping": "Bokföring (Accounting)",
    "connectfile": "Bokföring (Accounting)",
    "archive": "Arkivplats (Archive)",
    "supplierinvoice": "Leverantörsfakturor (Suppliers)",
    "invoice": "Fakturering (Billing)",
    "companyinformation": "the API itself",
}

MISSING_SCOPE = 2000663
NO_LICENCE_FOR_SCOPE = 2001101
NO_API_LICENCE = 2001103
INVALID_PARAMETER = 2000588
NO_SUCH_ROUTE = 2000762
INVALID_LOGIN = (2000310, 2000311)

_SECRETS = re.compile(
    r'(?i)("?(?:access_token|refresh_token|client_secret|code|authorization)"?\s*[:=]\s*"?)'
    r'([^"\s,&}]+)'
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
#: A Fortnox error code (`"code": 2000663`) says what went wrong; an OAuth `code` is a secret.
_ERROR_CODE = re.compile(r"\d{7}")


def _mask(match: re.Match[str]) -> str:
    key, value = match.group(1), match.group(2)
    if key.strip('"').lower().startswith("code") and _ERROR_CODE.fullmatch(value):
        return match.group(0)
    return key + "***"


def scrub(text: str, limit: int = 300) -> str:
    """A response body fit for a log line: trimmed, one line, no tokens."""
    text = _BEARER.sub(r"\1 ***", _SECRETS.sub(_mask, text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def scope_for(path: str) -> str | None:
    for prefix, scope in SCOPE_BY_PREFIX:
        if path.startswith(prefix):
            return scope
    return None


class FortnoxError(Exception):
    """Base of the tap's errors; `str()` is a complete, secret-free explanation."""


class FortnoxConfigError(FortnoxError):
    """The tap's configuration or token store cannot work as given."""


class FortnoxAuthError(FortnoxError):
    """Fortnox refused the credentials; usually the customer must consent again."""


class FortnoxAPIError(FortnoxError):
    """A Fortnox API call failed for a reason retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.path = path


class RetriableError(FortnoxError):
    """A failure worth another try: 429, 5xx, a timeout or a dropped connection."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def explain(method: str, path: str, status: int, code: int | None, message: str, body: str) -> str:
    """The text of a failed call: what happened and what to do about it."""
    call = f"{method} {path}"
    scope = scope_for(path)
    if code == MISSING_SCOPE:
        need = f"the scope '{scope}'" if scope else "a scope this call needs"
        return (f"{call}: Fortnox refused the call because the connection lacks {need} "
                f"(code {code}). Add it to the app's scopes in the Fortnox Developer Portal, then "
                "create a new connection with `tap-fortnox authorize` (scopes are fixed at consent).")
    if code in (NO_LICENCE_FOR_SCOPE, NO_API_LICENCE):
        if code == NO_API_LICENCE:
            what = "an API (integration) licence"
        else:
            what = f"a licence for {MODULE_BY_SCOPE.get(scope or '', 'the module this call belongs to')}"
        return (f"{call}: the company has no active licence for this call (code {code}): it needs "
                f"{what}. The company's Fortnox administrator must add it; until then leave the "
                "streams that need it unselected.")
    if code == INVALID_PARAMETER:
        return f"{call}: Fortnox rejected a query parameter (code {code}: {message or 'invalid parameter'})."
    if code == NO_SUCH_ROUTE:
        return f"{call}: Fortnox has no such endpoint (code {code}); check api_url."
    if status in (401, 403) or code in INVALID_LOGIN:
        return (f"{call}: Fortnox refused the credentials (HTTP {status}"
                f"{f', code {code}' if code else ''}). Check client_id/client_secret and that the "
                "connection was not revoked; a new consent may be needed (`tap-fortnox authorize`).")
    if status == 404:
        return f"{call}: not found (HTTP 404{f', code {code}' if code else ''}: {message or scrub(body)})."
    detail = message or scrub(body) or "no details"
    return f"{call}: HTTP {status}{f', code {code}' if code else ''}: {detail}"
