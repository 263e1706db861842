"""`/_sandbox/...`: the admin API beside the Fortnox paths (no auth, loopback only).

Tests and demos use it to change the books between syncs, read request counters,
inject faults, expire tokens, obtain a consent without a browser, and reset.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from . import mutations, shapes
from .books import Company
from .jsonenc import dumpb
from .oauth import STATE_KEY
from .state import SandboxState
from .timeutil import format_stockholm, now_utc
from .tokens import DEFAULT_SCOPES, KNOWN_SCOPES

routes = web.RouteTableDef()


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=dumpb(payload), content_type="application/json")


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


def _company(request: web.Request) -> Company:
    try:
        tenant = int(request.match_info["tenant"])
        return _state(request).books.companies[tenant]
    except (ValueError, KeyError):
        raise web.HTTPNotFound(
            body=dumpb({"error": "unknown tenant"}), content_type="application/json"
        ) from None


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(body=dumpb({"error": "JSON object expected"}),
                                 content_type="application/json")
    return data


def _bad(message: str) -> web.Response:
    return _json({"error": message}, 400)


def _voucher_json(request: web.Request, c: Company, v: Any) -> dict[str, Any]:
    names = {n: a.description for n, a in c.accounts[v.year_id].items()}
    out = shapes.voucher(f"{request.scheme}://{request.host}", v, names)
    out["LastModified"] = format_stockholm(v.modified_at, seconds=True)  # sandbox-only field
    return out


@routes.get("/_sandbox/")
async def index(request: web.Request) -> web.Response:
    state = _state(request)
    return _json(
        {
            "seed": state.config.seed,
            "companies": [
                {
                    "tenant_id": c.tenant_id,
                    "name": c.name,
                    "licences": sorted(c.licences),
                    "financial_years": [
                        {"id": y.id, "from": y.from_date.isoformat(), "to": y.to_date.isoformat()}
                        for y in c.years
                    ],
                }
                for c in state.books.companies.values()
            ],
            "client_id": state.config.client_id,
        }
    )


@routes.post("/_sandbox/tenants/{tenant}/vouchers")
async def add_voucher(request: web.Request) -> web.Response:
    c, body = _company(request), await _body(request)
    try:
        day = body.get("transaction_date")
        v = mutations.add_voucher(
            c,
            now=now_utc(),
            series=body.get("series", "A"),
            rows=body.get("rows"),
            year_id=body.get("financial_year_id"),
            transaction_date=date.fromisoformat(day) if day else None,
            description=body.get("description", "Sandbox-verifikation"),
        )
    except (mutations.MutationError, ValueError) as exc:
        return _bad(str(exc))
    return _json({"Voucher": _voucher_json(request, c, v)}, 201)


@routes.post("/_sandbox/tenants/{tenant}/vouchers/{year}/{series}/{number}/strike")
async def strike(request: web.Request) -> web.Response:
    c, body = _company(request), await _body(request)
    m = request.match_info
    try:
        v = mutations.strike_rows(
            c, now=now_utc(), year_id=int(m["year"]), series=m["series"],
            number=int(m["number"]), row_indexes=body.get("rows", []),
            replacements=body.get("replacements", []),
        )
    except (mutations.MutationError, ValueError) as exc:
        return _bad(str(exc))
    return _json({"Voucher": _voucher_json(request, c, v)})


@routes.delete("/_sandbox/tenants/{tenant}/vouchers/{year}/{series}/last")
async def delete_last(request: web.Request) -> web.Response:
    c, m = _company(request), request.match_info
    try:
        v = mutations.delete_last(c, now=now_utc(), year_id=int(m["year"]), series=m["series"])
    except (mutations.MutationError, ValueError) as exc:
        return _bad(str(exc))
    return _json({"deleted": {"financial_year_id": v.year_id, "series": v.series,
                              "number": v.number}})


@routes.post("/_sandbox/tenants/{tenant}/files")
async def connect_file(request: web.Request) -> web.Response:
    """Body: {"voucher": {"financial_year_id", "series", "number"}} | {"supplier_invoice": n}
    | {"invoice": n}, plus optional "name", "kind" (pdf|png), "touch" (bool)."""
    c, body = _company(request), await _body(request)
    try:
        target = body.get("voucher")
        f = mutations.connect_file(
            c,
            now=now_utc(),
            voucher=(int(target["financial_year_id"]), str(target["series"]),
                     int(target["number"])) if target else None,
            supplier_invoice=body.get("supplier_invoice"),
            invoice=body.get("invoice"),
            name=body.get("name", "Nytt underlag"),
            kind=body.get("kind", "pdf"),
            touch=bool(body.get("touch", True)),
        )
    except (mutations.MutationError, ValueError, KeyError, TypeError) as exc:
        return _bad(str(exc))
    base = f"{request.scheme}://{request.host}"
    return _json({"File": shapes.archive_file(base, f)}, 201)


@routes.get("/_sandbox/counters")
async def counters(request: web.Request) -> web.Response:
    tenant = request.query.get("tenant")
    return _json(_state(request).counters(int(tenant) if tenant else None))


@routes.delete("/_sandbox/counters")
async def reset_counters(request: web.Request) -> web.Response:
    _state(request).reset_counters()
    return _json({})


@routes.post("/_sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    body = await _body(request)
    _state(request).reset(tokens=bool(body.get("tokens", False)))
    return _json({"reset": True})


@routes.get("/_sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    return _json(_state(request).faults.describe())


@routes.put("/_sandbox/faults")
async def set_faults(request: web.Request) -> web.Response:
    """Body: {"profile": "flaky"} or {"rules": [{"kind": "status", "every": 3}, ...]}."""
    body = await _body(request)
    try:
        _state(request).faults.set(body.get("profile") or body.get("rules") or None)
    except (ValueError, TypeError) as exc:
        return _bad(str(exc))
    return _json(_state(request).faults.describe())


@routes.post("/_sandbox/tokens/expire")
async def expire_tokens(request: web.Request) -> web.Response:
    body = await _body(request)
    count = _state(request).tokens.expire(tenant_id=body.get("tenant_id"))
    return _json({"expired": count})


@routes.post("/_sandbox/consent")
async def consent(request: web.Request) -> web.Response:
    """A consent without a browser: {"tenant_id", "scopes"?} → a fresh refresh token."""
    state, body = _state(request), await _body(request)
    tenant = body.get("tenant_id")
    scopes = body.get("scopes") or list(DEFAULT_SCOPES)
    if tenant not in state.books.companies:
        return _bad("unknown tenant_id")
    if any(s not in KNOWN_SCOPES for s in scopes):
        return _bad("unknown scope")
    token = state.tokens.issue_refresh(tenant, state.config.client_id, scopes)
    return _json({"refresh_token": token, "scope": " ".join(sorted(scopes))})
