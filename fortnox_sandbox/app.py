"""The aiohttp application: routes plus the one middleware every Fortnox call passes.

Order per `/3/...` or `/api/...` request: count → authenticate (Bearer JWT) → rate limit
(per client + tenant) → fault injection → route exists (2000762) → scope (2000663) →
licence (2001101) → parameters (2000588) → handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import admin, api, oauth
from .errors import (
    INVALID_LOGIN,
    NO_LICENCE_FOR_SCOPE,
    NO_SUCH_ROUTE,
    NOT_AUTHORISED_FOR_SCOPE,
    TOKEN_MISSING,
    FortnoxError,
    error_response,
)
from .faults import FaultRule, break_sie
from .jsonenc import dumpb
from .oauth import STATE_KEY
from .query import check_supported
from .state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# [UNCERTAIN] HTTP status for 2000663 / 2001101 (the reference has none); we use 403.
SCOPE_STATUS = 403


def _endpoint_name(request: web.Request) -> str | None:
    """The route template (e.g. /3/vouchers/{series}/{number}), None when unmatched."""
    info = request.match_info
    if info.http_exception is not None:
        return None
    resource = info.route.resource
    return resource.canonical if resource is not None else None


def _too_many() -> web.Response:
    # [UNCERTAIN] body and headers of Fortnox's 429: no source documents Retry-After or
    # X-RateLimit-*; we send none, and a bare {"message"} body.
    return web.Response(status=429, body=dumpb({"message": "Too Many Requests"}),
                        content_type="application/json")


async def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection without an answer (the client sees a reset/disconnect)."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


async def _truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Announce the full body length, send half of it, then cut the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


async def _with_fault(
    request: web.Request, handler: Handler, fault: FaultRule | None
) -> web.StreamResponse:
    if fault is None:
        return await handler(request)
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if fault.kind == "late":
        response = await handler(request)  # the work is done (a refresh has rotated) ...
        await asyncio.sleep(fault.delay)  # ... and the answer is late
        return response
    if fault.kind == "status":
        return error_response(fault.status, 1000003, "Ett systemfel har uppstått (injected)")
    if fault.kind == "rate_limit":
        return _too_many()
    if fault.kind == "reset":
        return await _reset(request)
    response = await handler(request)
    if not isinstance(response, web.Response):
        return response
    if fault.kind == "truncate":
        return await _truncated(request, response)
    if fault.kind == "broken_sie" and response.status == 200 and isinstance(response.body, bytes):
        response.body = break_sie(response.body, fault.variant)
    return response


@web.middleware
async def fortnox_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path.startswith("/_sandbox/"):
        return await handler(request)
    state: SandboxState = request.app[STATE_KEY]
    name = _endpoint_name(request)
    if path.startswith("/oauth-v1/"):
        state.count(name or "unmatched")
        return await _with_fault(request, handler, state.faults.pick(path, None, api=False))
    if not path.startswith(("/3/", "/api/")):
        state.count("unmatched")
        return error_response(404, NO_SUCH_ROUTE, "No such route")

    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        state.count(name or "unmatched")
        # Legacy Access-Token/Client-Secret headers stopped working 2025-04-30 [S-MIGRATE].
        return error_response(401, TOKEN_MISSING, "Access-token eller client-secret saknas.")
    grant = state.tokens.check_access(header[7:].strip())
    if grant is None:
        state.count(name or "unmatched")
        return error_response(
            401, INVALID_LOGIN, "Ogiltig inloggning: token saknas eller har gått ut."
        )
    tenant = grant.tenant_id
    state.count(name or "unmatched", tenant)

    if state.config.rate_limit and not state.limiter.allow((grant.client_id, tenant)):
        return _too_many()

    fault = state.faults.pick(path, tenant)
    if fault is not None and fault.kind == "expire_token":
        state.tokens.expire(token=header[7:].strip())
        return error_response(401, INVALID_LOGIN, "Ogiltig inloggning: token har gått ut.")

    if name is None:
        return error_response(404, NO_SUCH_ROUTE, "No such route")
    target = request.match_info.handler
    scope = getattr(target, "fortnox_scope", None)
    if scope is not None and scope not in grant.scopes:
        return error_response(SCOPE_STATUS, NOT_AUTHORISED_FOR_SCOPE,
                              f"Saknar behörighet för scope {scope}.")
    company = state.books.companies.get(tenant)
    if company is None:
        return error_response(401, INVALID_LOGIN, "Okänd tenant.")
    licence = getattr(target, "fortnox_licence", None)
    if licence is not None and licence not in company.licences:
        return error_response(SCOPE_STATUS, NO_LICENCE_FOR_SCOPE,
                              "Det finns ingen aktiv licens för önskat scope.")
    request[api.COMPANY_KEY] = company

    async def run(req: web.Request) -> web.StreamResponse:
        try:
            check_supported(req.query, getattr(target, "fortnox_params", frozenset()))
            return await handler(req)
        except FortnoxError as exc:
            return error_response(exc.status, exc.code, exc.message)

    return await _with_fault(request, run, fault)


def build_app(state: SandboxState) -> web.Application:
    """The whole sandbox as one aiohttp application."""
    app = web.Application(middlewares=[fortnox_middleware])
    app[STATE_KEY] = state
    app.router.add_routes(api.routes)
    oauth.add_routes(app)
    app.router.add_routes(admin.routes)
    return app
