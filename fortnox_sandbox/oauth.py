"""`/oauth-v1/auth` and `/oauth-v1/token`, as Fortnox runs OAuth 2 (reference §1.2-1.3).

The consent page works in a browser; tests approve without one by adding the sandbox-only
query flags `approve=1` (and optionally `tenant=<DatabaseNumber>`), which answer the
authorize call with the redirect at once.
"""

from __future__ import annotations

import base64
import binascii
import html
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web

from .jsonenc import dumpb
from .state import SandboxState
from .tokens import KNOWN_SCOPES, GrantError

STATE_KEY = web.AppKey("sandbox_state", SandboxState)
DEFAULT_REDIRECT = "http://127.0.0.1/oauth/callback"


def _oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return web.Response(
        status=status,
        body=dumpb({"error": error, "error_description": description}),
        content_type="application/json",
    )


def _redirect(uri: str, **params: str) -> NoReturn:
    sep = "&" if "?" in uri else "?"
    raise web.HTTPFound(uri + sep + urlencode(params))


async def authorize(request: web.Request) -> web.Response:
    """GET shows the consent page (or approves at once with `approve=`); POST decides."""
    state = request.app[STATE_KEY]
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    client_id = params.get("client_id", "")
    if client_id != state.config.client_id:
        return web.Response(status=400, text="Unknown client_id", content_type="text/plain")
    redirect_uri = params.get("redirect_uri") or None
    target = redirect_uri or DEFAULT_REDIRECT
    oauth_state = params.get("state", "")
    if params.get("response_type") != "code":
        _redirect(target, error="unsupported_response_type", state=oauth_state)
    if not oauth_state:
        _redirect(target, error="invalid_request", error_description="state is required")
    scopes = params.get("scope", "").split()
    if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
        _redirect(target, error="invalid_scope", state=oauth_state)
    tenants = state.books.tenant_ids
    try:
        tenant = int(params.get("tenant") or tenants[0])
    except ValueError:
        tenant = -1
    if tenant not in state.books.companies:
        return web.Response(status=400, text="Unknown tenant", content_type="text/plain")
    decision = params.get("approve")
    if decision is None:
        return _consent_page(state, params, scopes)
    if decision not in ("1", "true", "yes"):
        _redirect(target, error="access_denied", state=oauth_state)
    if params.get("account_type") == "service":
        state.tokens.service_consents[(client_id, tenant)] = frozenset(scopes)
    code = state.tokens.issue_code(tenant, client_id, scopes, redirect_uri)
    _redirect(target, code=code, state=oauth_state)


def _consent_page(state: SandboxState, params: dict[str, str], scopes: list[str]) -> web.Response:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in ("approve", "tenant")
    )
    options = "".join(
        f'<option value="{t}">{html.escape(c.name)} ({t})</option>'
        for t, c in state.books.companies.items()
    )
    body = f"""<!doctype html><html lang="sv"><head><meta charset="utf-8">
<title>Fortnox sandbox - godkänn integration</title></head><body>
<h1>Godkänn integration</h1>
<p>Appen <b>{html.escape(params.get("client_id", ""))}</b> begär behörigheterna:
{html.escape(", ".join(scopes))}.</p>
<form method="post" action="/oauth-v1/auth">{hidden}
<label>Företag <select name="tenant">{options}</select></label>
<button name="approve" value="1">Godkänn</button>
<button name="approve" value="0">Neka</button></form></body></html>"""
    return web.Response(text=body, content_type="text/html")


def _client(request: web.Request, state: SandboxState) -> str:
    """The client id from HTTP Basic auth; wrong credentials → invalid_client (401)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        raise GrantError("invalid_client", "Basic authentication required", 401)
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise GrantError("invalid_client", "Malformed Basic authentication", 401) from None
    if client_id != state.config.client_id or secret != state.config.client_secret:
        raise GrantError("invalid_client", "Invalid client credentials", 401)
    return client_id


async def token(request: web.Request) -> web.Response:
    """The token endpoint: authorization_code, refresh_token, client_credentials."""
    state = request.app[STATE_KEY]
    try:
        client_id = _client(request, state)
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        lifetime = int(state.tokens.token_lifetime)
        if grant_type == "authorization_code":
            code = state.tokens.redeem_code(
                str(form.get("code", "")), client_id, form.get("redirect_uri") or None  # type: ignore[arg-type]
            )
            tenant, scopes = code.tenant_id, code.scopes
        elif grant_type == "refresh_token":
            old = state.tokens.rotate_refresh(str(form.get("refresh_token", "")), client_id)
            tenant, scopes = old.tenant_id, old.scopes
        elif grant_type == "client_credentials":
            try:
                tenant = int(request.headers.get("TenantId", ""))
            except ValueError:
                raise GrantError("invalid_request", "TenantId header required") from None
            consent = state.tokens.service_consents.get((client_id, tenant))
            if consent is None:
                raise GrantError("invalid_grant", "No service account consent for this tenant")
            access, _ = state.tokens.issue_access(tenant, client_id, consent, source="CC")
            return web.Response(
                body=dumpb(
                    {
                        "access_token": access,
                        "token_type": "bearer",
                        "expires_in": lifetime,
                        "scope": " ".join(sorted(consent)),
                    }
                ),
                content_type="application/json",
            )
        else:
            raise GrantError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")
    except GrantError as exc:
        return _oauth_error(exc.error, exc.description, exc.status)
    access, _ = state.tokens.issue_access(tenant, client_id, scopes)
    refresh = state.tokens.issue_refresh(tenant, client_id, scopes)
    return web.Response(
        body=dumpb(
            {
                "access_token": access,
                "refresh_token": refresh,
                "scope": " ".join(sorted(scopes)),
                "expires_in": lifetime,
                "token_type": "bearer",
            }
        ),
        content_type="application/json",
    )


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/oauth-v1/auth", authorize)
    app.router.add_route("POST", "/oauth-v1/auth", authorize)
    app.router.add_route("POST", "/oauth-v1/token", token)
