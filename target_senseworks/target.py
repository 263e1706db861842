"""target-senseworks: the Singer target that keeps an exact, auditable ledger.

STATE discipline: the SDK writes STATE only after draining every sink, and every
drain commits.  On top of that, a STATE that arrives while some financial year has
staged-but-unapplied vouchers is *held* and released only once those years have
been applied (their ``voucher_snapshots`` arrived): a bookmark is never released for
data that is not yet in the ledger.
"""

from __future__ import annotations

import logging
import traceback
import typing as t

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import InvalidRecord

from .ledger.apply import LedgerLoader, LoadError
from .ledger.db import DEFAULT_DATABASE_URL, make_engine, mask_secrets, safe_url
from .ledger.policy import FORTNOX_OVERWRITES, KEEP_SIE, SourcePolicy
from .sinks import SINKS, IgnoredSink

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.sinks import Sink


class TargetFailed(Exception):
    """A load failed; the message is safe to log (secrets masked)."""


class TargetSenseworks(Target):
    """Loads tap-fortnox's streams into the Senseworks ledger (SQLite or PostgreSQL)."""

    name = "target-senseworks"
    package_name = "senseworks-fortnox"
    default_sink_class = IgnoredSink

    config_jsonschema = th.PropertiesList(
        th.Property(
            "database_url",
            th.StringType,
            default=DEFAULT_DATABASE_URL,
            secret=True,
            description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db",
        ),
        th.Property(
            "source_policy",
            th.StringType,
            default=KEEP_SIE,
            allowed_values=[KEEP_SIE, FORTNOX_OVERWRITES],
            description="keep_sie: years loaded from SIE keep that ledger; "
            "fortnox_overwrites: Fortnox replaces SIE ledgers",
        ),
        th.Property(
            "overwrite_sie_years",
            th.ArrayType(th.StringType),
            default=[],
            description="Start dates (YYYY-MM-DD) of SIE-loaded years this run may overwrite",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one loader, one connection: drain in order, in this thread
        self._loader: LedgerLoader | None = None
        self._held_state: dict | None = None
        self.policy = SourcePolicy.from_config(
            self.config.get("source_policy"), self.config.get("overwrite_sie_years")
        )

    @property
    def database_url(self) -> str:
        """The configured URL (may hold a password: never log it unmasked)."""
        return str(self.config.get("database_url") or DEFAULT_DATABASE_URL)

    @property
    def loader(self) -> LedgerLoader:
        """The run's loader, created (and the schema migrated) on first use."""
        if self._loader is None:
            self.logger.info("Loading into %s", safe_url(self.database_url))
            self._loader = LedgerLoader(
                make_engine(self.database_url, writer=True),
                self.policy,
                settings={
                    "database_url": safe_url(self.database_url),
                    "source_policy": self.policy.policy,
                    "overwrite_sie_years": sorted(
                        d.isoformat() for d in self.policy.overwrite_sie_years
                    ),
                },
                on_years_applied=self._release_held_state,
            )
        return self._loader

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """The contract's streams get ledger sinks; anything else is ignored."""
        return SINKS.get(stream_name, IgnoredSink)

    # ------------------------------------------------------------------ STATE

    def _process_state_message(self, message_dict: dict) -> None:
        """Hold STATE while a year is staged but not applied."""
        if self._loader is not None and self._loader.has_pending_years:
            self._assert_line_requires(message_dict, requires={"value"})
            self._held_state = message_dict["value"]
            return
        super()._process_state_message(message_dict)

    def _release_held_state(self) -> None:
        """All staged years are applied: the held STATE now covers committed data only."""
        if self._held_state is not None:
            self._latest_state = self._held_state
            self._held_state = None

    # ------------------------------------------------------------- lifecycle

    def process_endofpipe(self) -> None:
        """Flush, drain (emits STATE), then record the load's outcome."""
        if self._loader is not None:
            self._loader.flush()
        super().process_endofpipe()
        if self._loader is not None:
            status = self._loader.finish()
            self.logger.info("Load %s %s: %s", self._loader.load_id, status,
                             dict(self._loader.counts))
            self._loader.close()

    def listen(self, file_input: t.IO[str] | None = None) -> None:
        """Run; on any error mark the load failed and raise with secrets masked."""
        try:
            super().listen(file_input)
        except (LoadError, InvalidRecord) as exc:  # our own messages: no secrets in them
            self._fail(str(exc))
            raise
        except Exception as exc:
            detail = mask_secrets(f"{type(exc).__name__}: {exc}", self.database_url)
            # One clear line for the person running the job; the traceback for debugging only.
            self.logger.error("Load failed: %s", detail[:2000])
            self.logger.debug(
                "Traceback:\n%s",
                mask_secrets("".join(traceback.format_exception(exc)), self.database_url)[-8000:],
            )
            self._fail(detail)
            raise TargetFailed(detail[:4000]) from None

    def _fail(self, error: str) -> None:
        loader = self._loader
        if loader is not None and not loader.finished:
            try:
                loader.fail(error[:8000])
            except Exception as exc:  # the database itself may be what failed
                logging.getLogger(__name__).error(
                    "could not mark load failed: %s", mask_secrets(str(exc), self.database_url)
                )

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """SIGTERM/SIGINT: commit what is complete, release safe STATE, mark the load failed."""
        try:
            self.drain_all(is_endofpipe=True)
        finally:
            self._fail(f"terminated by signal {signum}")
            super(Target, self)._handle_termination(signum, frame)


if __name__ == "__main__":
    TargetSenseworks.cli()
