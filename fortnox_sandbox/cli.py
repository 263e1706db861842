"""`fortnox-sandbox serve`: run the local Fortnox and print how to reach it.

The banner deliberately prints test credentials (client id/secret and one fresh refresh
token per company): they are the sandbox's own, valid nowhere else.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .faults import PROFILES as FAULT_PROFILES
from .generator import PROFILES, make_profile
from .server import serve_forever
from .state import SandboxConfig, SandboxState
from .tokens import DEFAULT_SCOPES

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fortnox-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox HTTP server")
    serve.add_argument("--host", default="127.0.0.1",
                       help="bind address (loopback by default; anything else is your choice)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--profile", choices=sorted(PROFILES), default="demo")
    serve.add_argument("--companies", type=int)
    serve.add_argument("--years", type=int)
    serve.add_argument("--vouchers-per-year", type=int)
    serve.add_argument("--attachment-share", type=float)
    serve.add_argument("--token-lifetime", type=float, default=3600)
    serve.add_argument("--no-rate-limit", action="store_true")
    serve.add_argument("--rate-limit-requests", type=int, default=25)
    serve.add_argument("--rate-limit-window", type=float, default=5.0)
    serve.add_argument("--time-scale", type=float, default=1.0)
    serve.add_argument("--faults", choices=sorted(FAULT_PROFILES), default=None)
    serve.add_argument("--client-id", default="sandbox-client")
    serve.add_argument("--client-secret", default="")
    serve.add_argument("--access-log", action="store_true")
    return parser


def _config(args: argparse.Namespace) -> SandboxConfig:
    sizes = {
        name: getattr(args, name)
        for name in ("companies", "years", "vouchers_per_year", "attachment_share")
        if getattr(args, name) is not None
    }
    return SandboxConfig(
        seed=args.seed,
        profile=make_profile(args.profile, **sizes),
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_lifetime=args.token_lifetime,
        rate_limit=not args.no_rate_limit,
        rate_limit_requests=args.rate_limit_requests,
        rate_limit_window=args.rate_limit_window,
        time_scale=args.time_scale,
        faults=args.faults,
    )


def banner(state: SandboxState, host: str, port: int, took: float) -> str:
    cfg = state.config
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [
        f"Fortnox sandbox (seed {cfg.seed}), books generated in {took:.2f} s",
        f"  API base URL : {base}        (GET {base}/3/companyinformation)",
        f"  OAuth        : {base}/oauth-v1   (token: {base}/oauth-v1/token)",
        f"  Admin        : {base}/_sandbox/",
        f"  client_id    : {cfg.client_id}",
        f"  client_secret: {cfg.client_secret}",
        "  rate limit   : " + (
            f"{cfg.rate_limit_requests} per {cfg.rate_limit_window / cfg.time_scale:g} s"
            if cfg.rate_limit else "off"),
        f"  faults       : {cfg.faults or 'none'}",
        "  companies (TenantId = DatabaseNumber; refresh tokens are single use):",
    ]
    for tenant, company in state.books.companies.items():
        token = state.tokens.issue_refresh(tenant, cfg.client_id, DEFAULT_SCOPES)
        years = ", ".join(f"{y.id}:{y.from_date}..{y.to_date}" for y in company.years)
        lines.append(f"    {tenant}  {company.name}  years [{years}]")
        lines.append(f"             refresh_token {token}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = _config(args)
    if config.host not in LOOPBACK:
        print(f"warning: binding {config.host}, not loopback only", file=sys.stderr)
    started = time.perf_counter()
    state = SandboxState(config)
    print(banner(state, config.host, config.port, time.perf_counter() - started), flush=True)
    serve_forever(state, config.host, config.port, access_log=args.access_log)  # Ctrl-C stops
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
