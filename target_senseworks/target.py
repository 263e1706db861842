"""target-senseworks: the Singer target that keeps an exact, auditable ledger.

STATE discipline: the SDK writes STATE only after draining every sink, and every
drain commits.  On top of that, a STATE that arrives while some financial year has
staged-but-unapplied vouchers is *held* and released only once those years have
been applied (their ``voucher_snapshots`` arrived): a bookmark is never released for
data that is not yet in the ledger.

Speed: RECORD messages of the contract's streams take a lean path
(`_process_record_message`) that does what the SDK's per-record path does for them
(metadata removal, validation, date parsing, key check, tallies, metrics, draining
full sinks and by record age) without its generic steps that are no-ops here (stream
maps, record copies, per-record debug logging); lines are decoded by msgspec
(`LedgerReader`).  Any configuration that makes those steps matter (stream maps,
flattening, record metadata) falls back to the SDK's path.
"""

from __future__ import annotations

import logging
import time
import traceback
import typing as t
from collections import Counter, defaultdict
from decimal import Decimal

import msgspec
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.io_base import SingerReader
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sinks import BatchSink, Sink

from .ledger.apply import LedgerLoader, LoadError
from .ledger.db import DEFAULT_DATABASE_URL, make_engine, mask_secrets, safe_url
from .ledger.policy import FORTNOX_OVERWRITES, KEEP_SIE, SourcePolicy
from .sinks import SINKS, IgnoredSink, LedgerSink

if t.TYPE_CHECKING:
    from types import FrameType

_SDC_COLUMNS = frozenset((
    "_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_deleted_at",
    "_sdc_sequence", "_sdc_table_version", "_sdc_sync_started_at",
))


#: Exact decimals, as the SDK's reader gives them; about twice as fast as the json module.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class LedgerReader(SingerReader):
    """The SDK's reader with less work per line.

    Lines are decoded by msgspec (numbers with a fraction as exact decimals); a line it
    refuses goes to the SDK's decoder, which gives the SDK's error for bad JSON (and
    reads what only Python's json accepts, such as NaN, as the SDK always did).  The
    loop is the SDK's (decode, require "type", dispatch, count) without its per-line
    helper calls.
    """

    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> Counter[str]:
        """Dispatch every line to its message type's callback; count lines per type."""
        stats: dict[str, int] = defaultdict(int)
        decode, callback_for = _DECODER.decode, callbacks.get
        for line in file_input or self.default_input:
            self._current_message = line
            try:
                message = decode(line)
            except msgspec.DecodeError:
                message = self.deserialize_json(line)  # the SDK's InvalidInputLine, or NaN
            if type(message) is not dict or "type" not in message:
                self.assert_line_requires(message, requires={"type"})
            kind = message["type"]
            if callback := callback_for(kind):
                callback(message)
            else:
                self._process_unknown_message(message)
            stats[kind] += 1
        return Counter(**stats)


class _FastStream(t.NamedTuple):
    """What the lean record path needs for one stream (see `_process_record_message`)."""

    sink: LedgerSink
    handler: t.Callable[[dict], None]
    validate: t.Callable[[dict], None] | None
    has_dates: bool
    counter: t.Any  # the sink's record counter metric
    plain_keys: frozenset[str]  # fields that need no _sdc_ metadata removal
    key_properties: frozenset[str]
    max_size: int


class TargetFailed(Exception):
    """A load failed; the message is safe to log (secrets masked)."""


class TargetSenseworks(Target):
    """Loads tap-fortnox's streams into the Senseworks ledger (SQLite or PostgreSQL)."""

    name = "target-senseworks"
    package_name = "senseworks-fortnox"
    default_sink_class = IgnoredSink
    message_reader_class = LedgerReader

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
        self._fast: dict[str, _FastStream | None] = {}
        self._max_record_age_seconds = self._MAX_RECORD_AGE_IN_MINUTES * 60
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

    # --------------------------------------------------------------- RECORDs

    def _process_schema_message(self, message_dict: dict) -> None:
        """A SCHEMA may replace the stream's sink or maps: rebuild its fast path."""
        self._fast.pop(message_dict.get("stream"), None)  # type: ignore[arg-type]
        super()._process_schema_message(message_dict)

    def _fast_stream(self, stream: str) -> _FastStream | None:
        """The lean path for `stream`, or None where the SDK's own path is needed."""
        maps = self.mapper.stream_maps.get(stream)
        sink = self._sinks_active.get(stream)
        if (
            not maps or len(maps) != 1 or type(maps[0]) is not SameRecordTransform
            or maps[0].stream_alias != stream or maps[0].flattening_enabled
            or not isinstance(sink, LedgerSink) or sink.include_sdc_metadata_properties
            or type(sink).preprocess_record is not Sink.preprocess_record
            or type(sink)._get_context is not BatchSink._get_context
        ):
            return None
        props = frozenset(sink.schema.get("properties") or ())
        validator = sink._validator
        return _FastStream(
            sink, getattr(self.loader, sink.handler_name),
            validator.validate if validator is not None else None, bool(sink.date_fields),
            sink.record_counter_metric, props - _SDC_COLUMNS,
            frozenset(sink.key_properties or ()), sink.max_size,
        )

    def _process_record_message(self, message_dict: dict) -> None:
        """The SDK's per-record steps for a contract stream, minus the generic no-ops.

        In the SDK's order: open a batch if none is open, drop _sdc_ metadata,
        validate (log, and raise unless the sink says otherwise), parse dates, check
        key properties, tally, hand the record to the loader, count it, drain the
        sink when full and every sink when the oldest record is too old.
        """
        stream = message_dict.get("stream")
        fast = self._fast.get(stream, False)  # type: ignore[arg-type]
        if fast is False:
            fast = self._fast[stream] = self._fast_stream(stream)  # type: ignore[index, arg-type]
        record = message_dict.get("record")
        if fast is None or type(record) is not dict:
            super()._process_record_message(message_dict)
            return
        sink, handler, validate, has_dates, counter, plain_keys, key_properties, max_size = fast
        if sink._pending_batch is None:
            sink._get_context(record)  # opens the batch the next drain closes
        if not record.keys() <= plain_keys:
            sink._remove_sdc_metadata_from_record(record)
        if validate is not None:
            try:
                validate(record)
            except InvalidRecord:
                sink.logger.exception("Record validation failed")
                if sink.fail_on_record_validation_exception:
                    raise
        if has_dates:
            sink.parse_dates(record)
        if not record.keys() >= key_properties:
            sink._singer_validate_message(record)  # raises, naming the missing keys
        sink._total_records_read += 1
        sink._batch_records_read += 1
        handler(record)
        counter.increment()
        if sink._batch_records_read >= max_size:
            self.logger.info(
                "Target sink for '%s' is full. Current size is '%s'. Draining...",
                sink.stream_name, sink.current_size,
            )
            self.drain_one(sink)
        if time.time() - self._last_full_drain_at > self._max_record_age_seconds:
            self._handle_max_record_age()

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
