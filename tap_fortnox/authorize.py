"""`tap-fortnox authorize`: connect a Fortnox company once, store its tokens.

Prints the consent URL for the company's administrator, receives the
authorization code on a loopback redirect listener (or as a pasted redirect URL
or code), exchanges it, and writes the tokens to the token store, from where
every later run continues the refresh-token chain.  Tokens are never printed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from .errors import FortnoxError, scrub
from .tokens import StoredTokens, TokenStore, digest

DEFAULT_SCOPES = "bookkeeping companyinformation connectfile archive supplierinvoice invoice"
DEFAULT_AUTH_URL = "https://apps.fortnox.se/oauth-v1"
DEFAULT_API_URL = "https://api.fortnox.se"


def consent_url(auth_url: str, client_id: str, redirect_uri: str, scopes: str, state: str,
                service_account: bool) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": state,
        "access_type": "offline",  # without it Fortnox issues no refresh token worth keeping
        "response_type": "code",
    }
    if service_account:
        params["account_type"] = "service"
    return f"{auth_url.rstrip('/')}/auth?{urlencode(params)}"


class _Callback(BaseHTTPRequestHandler):
    result: dict[str, str]
    done: threading.Event

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        if "code" not in query and "error" not in query:
            self.send_response(404)
            self.end_headers()
            return
        type(self).result.update(query)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"tap-fortnox received the answer from Fortnox. You can close this window.\n")
        type(self).done.set()

    def log_message(self, *args: Any) -> None:  # the query holds the code: keep it out of logs
        pass


def listen_for_code(port: int, timeout: float) -> tuple[HTTPServer, dict[str, str], threading.Event]:
    handler = type("Callback", (_Callback,), {"result": {}, "done": threading.Event()})
    server = HTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler.result, handler.done


def code_from(answer: dict[str, str], state: str) -> str:
    if "error" in answer:
        raise FortnoxError(f"Fortnox did not grant access: {answer['error']} "
                           f"{answer.get('error_description', '')}".strip())
    if answer.get("state") != state:
        raise FortnoxError("the answer's state does not match this request (a stale or forged "
                           "redirect); start `tap-fortnox authorize` again")
    return answer["code"]


def parse_pasted(text: str, state: str) -> str:
    """A pasted redirect URL (checked against `state`) or a bare code."""
    text = text.strip()
    if "?" in text or text.startswith("http"):
        query = {k: v[0] for k, v in parse_qs(urlparse(text).query).items()}
        return code_from(query, state)
    if not text:
        raise FortnoxError("no code was pasted")
    return text


def exchange(auth_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
             timeout: float = 30.0) -> dict[str, Any]:
    call = f"POST {auth_url.rstrip('/')}/token (authorization_code)"
    try:
        response = requests.post(f"{auth_url.rstrip('/')}/token", auth=(client_id, client_secret),
                                 data={"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": redirect_uri}, timeout=timeout)
    except requests.RequestException as e:
        raise FortnoxError(f"{call}: {type(e).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "refresh_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else ""
        raise FortnoxError(f"{call}: Fortnox refused the code ({error}). Codes are single-use and "
                           f"live 10 minutes; start again. {scrub(response.text, 160)}")
    return body


def company(api_url: str, access_token: str, timeout: float = 30.0) -> dict[str, Any]:
    """The connected company's name and tenant id, to show whom the tokens belong to."""
    try:
        response = requests.get(f"{api_url.rstrip('/')}/3/companyinformation", timeout=timeout,
                                headers={"Authorization": f"Bearer {access_token}",
                                         "Accept": "application/json"})
        return response.json().get("CompanyInformation", {}) if response.ok else {}
    except (requests.RequestException, ValueError):
        return {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tap-fortnox authorize",
                                description="Connect a Fortnox company and store its tokens.")
    p.add_argument("--config", required=True, help="tap config JSON (client_id, client_secret, "
                   "token_store_path, optionally auth_url and api_url)")
    p.add_argument("--scopes", default=DEFAULT_SCOPES, help=f"space-separated (default: {DEFAULT_SCOPES})")
    p.add_argument("--service-account", action="store_true",
                   help="ask for a service account (account_type=service); then client "
                        "credentials with the printed tenant id work too")
    p.add_argument("--port", type=int, default=8910,
                   help="loopback port of the redirect listener (default 8910)")
    p.add_argument("--redirect-uri", help="redirect URI registered for the app (default "
                   "http://127.0.0.1:PORT/callback)")
    p.add_argument("--paste", action="store_true",
                   help="no listener: paste the redirect URL or the code when asked")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the consent")
    args = p.parse_args(argv)

    try:
        config = json.loads(Path(args.config).read_text())
        client_id, client_secret = config["client_id"], config["client_secret"]
        store_path = config["token_store_path"]
    except (OSError, ValueError, KeyError) as e:
        print(f"tap-fortnox authorize: cannot use {args.config}: {type(e).__name__} {e}", file=sys.stderr)
        return 2
    auth_url = config.get("auth_url") or DEFAULT_AUTH_URL
    redirect_uri = args.redirect_uri or f"http://127.0.0.1:{args.port}/callback"
    state = secrets.token_urlsafe(16)
    store = TokenStore(store_path)
    try:
        store.acquire()
        server = None
        if not args.paste:
            server, answer, done = listen_for_code(args.port, args.timeout)
        url = consent_url(auth_url, client_id, redirect_uri, args.scopes, state, args.service_account)
        print("Open this URL as the company's Fortnox administrator and approve the integration:\n")
        print(f"  {url}\n", flush=True)
        if server is not None:
            print(f"Waiting for Fortnox to redirect to {redirect_uri} ...", flush=True)
            received = done.wait(args.timeout)
            server.shutdown()
            if not received:
                raise FortnoxError(f"no answer from Fortnox within {args.timeout:.0f} s")
            code = code_from(answer, state)
        else:
            code = parse_pasted(input("Paste the URL you were redirected to (or the code): "), state)
        body = exchange(auth_url, client_id, client_secret, code, redirect_uri)
        lifetime = float(body.get("expires_in", 3600))
        store.save(StoredTokens(refresh_token=body["refresh_token"], access_token=body["access_token"],
                                expires_at=time.time() + lifetime, seed_digest=digest(body["refresh_token"])))
        info = company(config.get("api_url") or DEFAULT_API_URL, body["access_token"])
    except FortnoxError as e:
        print(f"tap-fortnox authorize: {e}", file=sys.stderr)
        return 1
    finally:
        store.release()
    who = f"{info.get('CompanyName', 'the company')} (tenant {info.get('DatabaseNumber', 'unknown')})"
    print(f"Connected {who} with scopes: {body.get('scope', args.scopes)}.")
    print(f"Tokens are stored in {store.path} (mode 0600). Set token_store_path to it for every run"
          " of this company, and leave refresh_token unset.")
    if args.service_account and info.get("DatabaseNumber"):
        print(f"Service account: client credentials with tenant_id {info['DatabaseNumber']} work too.")
    return 0
