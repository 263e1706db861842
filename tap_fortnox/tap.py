"""tap-fortnox: Fortnox financial years, vouchers and their documents as Singer streams."""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from . import streams
from .attachments import ATTACHMENT_SETTINGS, AttachmentsStream
from .auth import FortnoxAuthenticator
from .client import YearStream
from .connection import FortnoxConnection
from .errors import FortnoxAPIError, FortnoxConfigError, FortnoxError
from .ledger import Ledger
from .ratelimit import SlidingWindowLimiter
from .tokens import TokenStore
from .years import select_years

DEFAULT_API_URL = "https://api.fortnox.se"
DEFAULT_AUTH_URL = "https://apps.fortnox.se/oauth-v1"
RATE_WINDOW_SECONDS = 5.0

STREAM_TYPES = [
    streams.CompanyInformationStream,
    streams.FinancialYearsStream,
    streams.AccountsStream,
    streams.VoucherSeriesStream,
    streams.VouchersStream,
    streams.VoucherRowsStream,
    streams.VoucherSnapshotsStream,
    AttachmentsStream,
]
#: Dependency order (docs/singer-contract.md), not the SDK's order by name. Unknown names
#: sort after these.
STREAM_ORDER = ["company_information", "financial_years", "accounts", "voucher_series",
                "vouchers", "voucher_rows", "voucher_snapshots", "attachments"]
LEDGER_MODES = ("sie", "rest")


class TapFortnox(Tap):
    """Fortnox financial years, vouchers, voucher rows and voucher documents, per company."""

    name = "tap-fortnox"
    package_name = "senseworks-fortnox"

    config_jsonschema = th.PropertiesList(
        th.Property("api_url", th.StringType, default=DEFAULT_API_URL,
                    description="Fortnox API base URL (the part before /3/...)."),
        th.Property("auth_url", th.StringType, default=DEFAULT_AUTH_URL,
                    description="Fortnox OAuth base URL (its /token and /auth endpoints)."),
        th.Property("client_id", th.StringType, required=True,
                    description="Client id of the integration in the Fortnox Developer Portal."),
        th.Property("client_secret", th.StringType, required=True, secret=True,
                    description="Client secret of the integration."),
        th.Property("tenant_id", th.StringType,
                    description="Tenant id (DatabaseNumber) for the client-credentials flow of a "
                                "service account. Leave empty to use a refresh token."),
        th.Property("refresh_token", th.StringType, secret=True,
                    description="First refresh token of an authorization-code connection. Every "
                                "rotated token is kept in token_store_path from then on."),
        th.Property("token_store_path", th.StringType,
                    description="File that keeps the rotating refresh token between runs (mode "
                                "0600, written atomically). Required with refresh_token; one per "
                                "company and credential."),
        th.Property("max_requests_per_window", th.IntegerType, default=24,
                    description="Requests allowed per 5-second sliding window for the whole run "
                                "(Fortnox allows 25)."),
        th.Property("rate_limit_window", th.NumberType, default=RATE_WINDOW_SECONDS,
                    description="Length in seconds of Fortnox's sliding window (5). Only change it "
                                "against a time-scaled fortnox_sandbox."),
        th.Property("max_concurrency", th.IntegerType, default=4,
                    description="Parallel requests for independent calls (voucher details, file "
                                "downloads), all under the one rate limit."),
        th.Property("request_timeout", th.NumberType, default=60,
                    description="Seconds to wait for a Fortnox answer before retrying."),
        th.Property("max_retries", th.IntegerType, default=7,
                    description="Retries of a call after 429, 5xx, timeouts or dropped connections "
                                "(exponential backoff, Retry-After honoured) before the run fails."),
        th.Property("start_date", th.DateType,
                    description="Skip financial years that end before this date."),
        th.Property("last_n_years", th.IntegerType,
                    description="Sync the current financial year (the one containing today, else "
                                "the latest) and the n-1 before it. Default: all years."),
        th.Property("financial_year_ids", th.ArrayType(th.IntegerType),
                    description="Sync exactly these financial years (Fortnox year Ids). Not "
                                "together with last_n_years."),
        th.Property("ledger_extraction", th.StringType, default="sie",
                    allowed_values=list(LEDGER_MODES),
                    description="How voucher rows are read: 'sie' (one SIE-4 export per year) "
                                "or 'rest' (one request per voucher). Same records either way, "
                                "except registration_date (SIE only)."),
        *ATTACHMENT_SETTINGS,
    ).to_dict()

    def discover_streams(self) -> list[streams.FortnoxStream]:
        return [cls(tap=self) for cls in STREAM_TYPES]

    def load_streams(self) -> list[Stream]:  # type: ignore[misc]  # the SDK marks it final
        """The SDK's streams (children wired to parents), in dependency order, not by name."""
        rank = {name: i for i, name in enumerate(STREAM_ORDER)}
        return sorted(super().load_streams(), key=lambda s: (rank.get(s.name, len(rank)), s.name))

    # --- the one connection of the run -----------------------------------------------------

    @cached_property
    def connection(self) -> FortnoxConnection:
        config = self.config
        store = TokenStore(config["token_store_path"]) if config.get("token_store_path") else None
        authenticator = FortnoxAuthenticator(
            auth_url=config.get("auth_url") or DEFAULT_AUTH_URL,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            tenant_id=config.get("tenant_id"),
            refresh_token=config.get("refresh_token"),
            store=store,
            timeout=float(config.get("request_timeout", 60)),
        )
        connection = FortnoxConnection(
            api_url=config.get("api_url") or DEFAULT_API_URL,
            authenticator=authenticator,
            limiter=SlidingWindowLimiter(int(config.get("max_requests_per_window", 24)),
                                         float(config.get("rate_limit_window", RATE_WINDOW_SECONDS))),
            timeout=float(config.get("request_timeout", 60)),
            max_concurrency=int(config.get("max_concurrency", 4)),
            max_tries=int(config.get("max_retries", 7)) + 1,
        )
        connection.open()
        return connection

    @cached_property
    def company_information(self) -> dict[str, Any]:
        body = self.connection.get_json("/3/companyinformation")
        info = body.get("CompanyInformation")
        if not isinstance(info, dict) or "DatabaseNumber" not in info:
            raise FortnoxAPIError("GET /3/companyinformation: the answer has no CompanyInformation "
                                  "with a DatabaseNumber")
        return info

    @property
    def tenant_id(self) -> int:
        """Every record carries it, so one ledger can hold many companies."""
        tenant = int(self.company_information["DatabaseNumber"])
        configured = self.config.get("tenant_id")
        if configured and str(configured) != str(tenant):
            raise FortnoxAPIError(f"tenant_id {configured} is configured, but the connection belongs "
                                  f"to tenant {tenant} (DatabaseNumber)")
        return tenant

    @cached_property
    def financial_years(self) -> list[dict[str, Any]]:
        years = list(self.connection.paginate("/3/financialyears", "FinancialYears"))
        return sorted(years, key=lambda y: str(y.get("FromDate")))

    @cached_property
    def selected_years(self) -> list[dict[str, Any]]:
        """The financial years this run covers (last_n_years, financial_year_ids, start_date)."""
        return select_years(self.financial_years, self.config)

    @cached_property
    def ledger(self) -> Ledger:
        """The run's ledger plan, made once: selected years and their bookmarks."""
        mode = self.config.get("ledger_extraction") or "sie"
        if mode not in LEDGER_MODES:
            raise FortnoxConfigError(f"ledger_extraction must be one of {LEDGER_MODES}, not {mode!r}")
        selected = {s.name for s in self.streams.values() if s.selected}
        return Ledger(self.connection, self.tenant_id, self.selected_years, mode=mode,
                      state=self.state, bookmark_stream=streams.VoucherSnapshotsStream.name,
                      bookmark_key=streams.VoucherSnapshotsStream.BOOKMARK, streams=selected)

    # --- running ---------------------------------------------------------------------------

    def sync_all(self) -> None:  # type: ignore[misc]  # the SDK marks it final
        self._started = time.monotonic()
        try:
            self._sync_in_order()
        except FortnoxError as e:
            # A clear message, not a traceback: the error already names the call and what to do.
            # It comes last, after the run summary: Meltano shows a failed plugin's last line.
            self._close_connection()
            self.logger.error("tap-fortnox stopped: %s", e)
            raise SystemExit(1) from None
        except (KeyError, TypeError, ValueError, ArithmeticError) as e:
            # An answer of a shape the tap does not know (a field missing, a type changed):
            # say so in one line; the traceback is for whoever debugs it.
            self._close_connection()
            self.logger.debug("tap-fortnox stopped", exc_info=True)
            self.logger.error("tap-fortnox stopped: an answer from Fortnox did not have the shape "
                              "the tap expects (%s: %s). Run with --log-level debug for the details "
                              "and report it: this is an API change or a tap bug.",
                              type(e).__name__, str(e)[:200])
            raise SystemExit(1) from None
        finally:
            self._close_connection()

    def _sync_in_order(self) -> None:
        """The SDK's `sync_all`, except that the year streams go year by year.

        For each financial year: accounts, voucher_series, vouchers (+ rows), then the
        year's snapshot and its STATE. A run that dies in year 3 has committed the
        bookmarks of years 1 and 2, so the next run does not redo them; the SDK's order
        (every year of one stream before the next stream) would redo them all.
        """
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        years_done = False
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
                continue
            if stream.parent_stream_type:
                continue  # synced by its parent
            if isinstance(stream, YearStream):
                if not years_done:
                    self._sync_years()
                    years_done = True
                continue
            stream.sync()
            stream.finalize_state_progress_markers()
        for stream in self.streams.values():
            stream.log_sync_costs()

    def _sync_years(self) -> None:
        yearly = [s for s in self.streams.values()
                  if isinstance(s, YearStream) and not s.parent_stream_type
                  and (s.selected or s.has_selected_descendents)]
        for context in self.ledger.partitions():
            for stream in yearly:
                stream.sync(context=context)
        for stream in yearly:
            stream.finalize_state_progress_markers()

    def _close_connection(self) -> None:
        ledger = self.__dict__.pop("ledger", None)  # a later sync plans afresh
        if ledger is not None:
            ledger.close()
        if "connection" in self.__dict__:
            connection = self.connection
            years, vouchers, rows = ledger.totals if ledger is not None else (0, 0, 0)
            files = sum(getattr(s, "emitted_files", 0) for s in self.streams.values())
            self.logger.info("tap-fortnox: %d financial years, %d vouchers, %d rows and %d documents "
                             "sent in %.1f s", years, vouchers, rows, files,
                             time.monotonic() - getattr(self, "_started", time.monotonic()))
            self.logger.info("Fortnox: %s", connection.summary())
            connection.close()
            del self.__dict__["connection"]


logging.getLogger("tap_fortnox").setLevel(logging.INFO)
