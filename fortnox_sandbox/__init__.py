"""A faithful local Fortnox API: data generator, OAuth, rate limits and faults.

Nothing in this project may call the real Fortnox; demos, integration tests and
benchmarks talk to this package instead. Modules, one job each:

- `generator` (+ `chart`, `files`): deterministic books per seed and size profile
  ("tiny", "demo", "large"); `books` holds them (money as two-decimal `Decimal`).
- `api` + `shapes` + `query`: the `/3/...` and `/api/...` endpoints, JSON field by field
  as in ../shared/reference/fortnox-api.md; `sie_export` writes `/3/sie/4` with `sie4`.
- `oauth` + `tokens`: `/oauth-v1/auth` and `/oauth-v1/token` (code, single-use rotating
  refresh tokens, client credentials with a `TenantId` header), expiring JWT access tokens.
- `ratelimit` (25 per sliding 5 s per client+tenant), `faults` (injected failures),
  `mutations` + `admin` (the `/_sandbox/` API), `app` (middleware), `server`, `cli`.
- `testing.running_sandbox`: the helper tests use (see its docstring).

Request counters are keyed by route template, e.g. "/3/vouchers",
"/3/vouchers/{series}/{number}", "/3/sie/{type}", "/oauth-v1/token"; "unmatched" for
unknown routes. Admin calls are not counted.
"""
