"""Fortnox error bodies and codes (reference §4.12).

Handlers raise `FortnoxError`; the middleware turns it into the documented
`{"ErrorInformation": {"error": 1, "message": ..., "code": ...}}` body.
"""

from __future__ import annotations

from aiohttp import web

from .jsonenc import dumpb

SYSTEM_EXCEPTION = 1000003
INVALID_LOGIN = 2000310  # invalid / expired access token
TOKEN_MISSING = 2000311
INVALID_PARAMETER = 2000588
NOT_AUTHORISED_FOR_SCOPE = 2000663
NO_VALID_IDENTIFIER = 2000729
NO_SUCH_ROUTE = 2000762
NO_LICENCE_FOR_SCOPE = 2001101
ACCOUNT_NOT_FOUND = 2001304


class FortnoxError(Exception):
    """An API error with its HTTP status and Fortnox code."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: int, message: str) -> dict[str, object]:
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


def error_response(status: int, code: int, message: str) -> web.Response:
    return web.Response(
        status=status, body=dumpb(error_body(code, message)), content_type="application/json"
    )


def invalid_parameter(name: str) -> FortnoxError:
    return FortnoxError(400, INVALID_PARAMETER, f"Ogiltig parameter i anropet: {name}")


def not_found(what: str) -> FortnoxError:
    # [UNCERTAIN] Fortnox has per-resource "Kan inte hitta ..." codes that the reference
    # does not list (except 2001304 for accounts); we answer 404 with 2000729
    # ("no valid identifier") for other resources.
    return FortnoxError(404, NO_VALID_IDENTIFIER, f"Kan inte hitta {what}.")
