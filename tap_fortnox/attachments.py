"""The `attachments` stream: every document connected to a voucher, once, with its bytes.

One record per file (see docs/singer-contract.md, "Attachments").  A run lists
the documents of the chosen modules (list pages only, `attachment_sources.py`),
drops those already emitted by an earlier run, and downloads the rest through
the connection's worker pool (`files.py`: streamed, hashed, size-bounded).

The bookmark is the set of documents already emitted, kept in STATE as 8-byte
digests of (tenant, module, file id, source, voucher links, how it was emitted).
A file is therefore downloaded once; it is downloaded again only when its
voucher links change (a supplier invoice's payment booked later), so the record a
target holds always shows every voucher the file belongs to.  Files that failed
(gone, cut short) are not in the set and are tried again next run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from singer_sdk import typing as th

from .attachment_sources import MODULES, Document, list_documents
from .client import FortnoxStream
from .errors import FortnoxAPIError, FortnoxConfigError
from .files import Download, download

logger = logging.getLogger("tap_fortnox")

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
#: Meltano refuses a line over half its buffer (100 MiB by default); base64 adds a third.
MELTANO_SAFE_BYTES = 37 * 1024 * 1024
STATE_KEY = "emitted_files"
DIGEST_BYTES = 8
#: Consecutive failed downloads (other than files that are gone) before the run stops:
#: a broken connection should not be walked through every remaining file.
MAX_FAILURES_IN_A_ROW = 20

ATTACHMENT_SETTINGS = th.PropertiesList(
    th.Property("include_attachment_content", th.BooleanType, default=True,
                description="Emit each document's bytes (base64) in the attachments stream. False "
                            "emits metadata only and downloads nothing: size, sha256 and "
                            "content_type are then null, since they need the bytes."),
    th.Property("max_attachment_bytes", th.IntegerType, default=DEFAULT_MAX_BYTES,
                description="Larger documents are emitted without content and with a "
                            "skipped_reason, so no Singer line exceeds Meltano's buffer (a line "
                            "may be half of elt.buffer_size; base64 adds a third). Default 25 MiB."),
    th.Property("attachment_modules", th.ArrayType(th.StringType(allowed_values=list(MODULES))),
                default=list(MODULES),
                description="Fortnox modules whose documents are extracted: accounting (files on "
                            "vouchers), suppliers (supplier invoice files), billing (customer "
                            "invoice PDFs and their attached files)."),
)


_NULLABLE_TEXT = {"type": ["string", "null"]}
ATTACHMENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tenant_id": {"type": "integer", "description": "Fortnox DatabaseNumber (the tenant id)"},
        "file_id": {"type": "string", "description": "Fortnox archive file id; invoice-preview-{n} "
                                                     "for a customer invoice's PDF"},
        "module": {"type": "string", "enum": list(MODULES)},
        "file_name": _NULLABLE_TEXT,
        "content_type": {**_NULLABLE_TEXT, "description": "sniffed from the bytes; null when the "
                                                          "bytes were not read"},
        "size": {"type": ["integer", "null"], "description": "bytes; null when not read"},
        "sha256": {**_NULLABLE_TEXT, "description": "hex sha256 of the complete file; null when the "
                                                    "bytes were not read"},
        "vouchers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "financial_year_id": {"type": "integer"},
                    "series": {"type": "string"},
                    "number": {"type": "integer"},
                },
                "required": ["financial_year_id", "series", "number"],
                "additionalProperties": False,
            },
        },
        "source": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["voucher", "supplier_invoice", "invoice"]},
                "number": {"type": "string"},
            },
            "required": ["type", "number"],
            "additionalProperties": False,
        },
        "content": {"type": ["string", "null"], "contentEncoding": "base64",
                    "contentMediaType": "application/octet-stream",
                    "description": "the file's bytes; its real type is content_type"},
        "skipped_reason": _NULLABLE_TEXT,
    },
    "required": ["tenant_id", "file_id", "module", "vouchers", "source"],
    "additionalProperties": False,
}


class EmittedSet:
    """Documents already emitted, as sorted 8-byte digests: about 11 characters of STATE each.

    A 64-bit digest makes a false "already emitted" practically impossible (under one
    in 10^15 for a new file against 3,000 emitted ones) while keeping the
    bookmark small.  Entries are never removed: a file deleted in Fortnox leaves
    its 8 bytes behind.
    """

    def __init__(self, digests: Iterable[bytes] = ()) -> None:
        self._digests = set(digests)

    @classmethod
    def load(cls, saved: Any) -> EmittedSet:
        """The set from STATE; an unreadable one counts as empty (every file is emitted again)."""
        if saved is None:
            return cls()
        try:
            raw = base64.b64decode(saved["digests"], validate=True)
        except (TypeError, KeyError, ValueError):
            logger.warning("attachments: the bookmark %s is unreadable; every document is emitted "
                           "again", STATE_KEY)
            return cls()
        return cls(raw[i:i + DIGEST_BYTES] for i in range(0, len(raw) - DIGEST_BYTES + 1, DIGEST_BYTES))

    def dump(self) -> dict[str, Any]:
        blob = b"".join(sorted(self._digests))
        return {"format": f"sha256/{DIGEST_BYTES}", "count": len(self._digests),
                "digests": base64.b64encode(blob).decode("ascii")}

    @staticmethod
    def key(tenant_id: int, doc: Document, level: str) -> bytes:
        text = f"{tenant_id}|{doc.module}|{doc.file_id}|{doc.links()}|{level}"
        return hashlib.sha256(text.encode()).digest()[:DIGEST_BYTES]

    def __contains__(self, key: bytes) -> bool:
        return key in self._digests

    def add(self, key: bytes) -> None:
        self._digests.add(key)

    def __len__(self) -> int:
        return len(self._digests)


#: How a document was emitted: with its bytes, as metadata only, or skipped over a size limit.
CONTENT, METADATA = "content", "metadata"


def over_limit(max_bytes: int) -> str:
    return f"over:{max_bytes}"


class AttachmentsStream(FortnoxStream):
    """Documents of Accounting, Suppliers and Billing, each linked to its vouchers."""

    name = "attachments"
    primary_keys = ("tenant_id", "file_id")
    schema = ATTACHMENTS_SCHEMA
    STATE_MSG_FREQUENCY = 100  # the bookmark is saved every 100 files: a crash loses little
    emitted_files = 0  # documents emitted in this run, for the run's summary line

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: a run emits only new files, so ACTIVATE_VERSION would delete all the others."""
        return False

    # --- settings -------------------------------------------------------------------------

    def _setting(self, name: str, default: Any) -> Any:
        value = self.config.get(name)
        return default if value is None else value

    @property
    def include_content(self) -> bool:
        return bool(self._setting("include_attachment_content", True))

    @property
    def max_bytes(self) -> int:
        value = int(self._setting("max_attachment_bytes", DEFAULT_MAX_BYTES))
        if value < 1:
            raise FortnoxConfigError("max_attachment_bytes must be at least 1")
        return value

    @property
    def modules(self) -> list[str]:
        chosen = set(self._setting("attachment_modules", list(MODULES)))  # validated by the schema
        return [m for m in MODULES if m in chosen]

    def year_ids(self) -> frozenset[int]:
        """The financial years the run covers: the same selection as the ledger streams."""
        return frozenset(int(y["Id"]) for y in self.fortnox.selected_years)

    # --- records ----------------------------------------------------------------------------

    def _record(self, doc: Document, **fields: Any) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "file_id": doc.file_id,
            "module": doc.module,
            "file_name": doc.file_name,
            "content_type": None,
            "size": None,
            "sha256": None,
            "vouchers": [{"financial_year_id": y, "series": s, "number": n}
                         for y, s, n in sorted(doc.vouchers)],
            "source": {"type": doc.source_type, "number": doc.source_number},
            "content": None,
            "skipped_reason": None,
            **fields,
        }

    def _describe(self, doc: Document) -> str:
        return f"{doc.module} file {doc.file_id} ({doc.source_type.replace('_', ' ')} {doc.source_number})"

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        tenant, max_bytes, with_content = self.tenant_id, self.max_bytes, self.include_content
        if with_content and max_bytes > MELTANO_SAFE_BYTES:
            self.logger.warning("max_attachment_bytes is %d: a file that large makes a Singer line "
                                "over Meltano's default limit (raise elt.buffer_size)", max_bytes)
        emitted = EmittedSet.load(self.stream_state.get(STATE_KEY))
        documents, unavailable = list_documents(self.connection, self.modules, self.year_ids())
        for module, why in unavailable.items():
            self.logger.warning("attachments: the %s module is skipped: %s", module, why)

        levels = [CONTENT, over_limit(max_bytes)] + ([] if with_content else [METADATA])
        todo = [d for d in documents
                if not any(EmittedSet.key(tenant, d, level) in emitted for level in levels)]
        self.logger.info("attachments: %d documents listed, %d already emitted, %d to %s",
                         len(documents), len(documents) - len(todo), len(todo),
                         "download" if with_content else "emit as metadata")
        outcomes = self._emit_all(todo, emitted, tenant, max_bytes, with_content)
        yield from outcomes
        self.stream_state[STATE_KEY] = emitted.dump()

    def _emit_all(self, todo: list[Document], emitted: EmittedSet, tenant: int, max_bytes: int,
                  with_content: bool) -> Iterator[dict[str, Any]]:
        # In BATCH mode the SDK keeps records after they are yielded; otherwise it has written them.
        release = self.get_batch_config(self.config) is None
        # Leaving the pool's block on every way out (done, error, the SDK stopping early)
        # waits for the downloads in flight: none may outlive the run's connection.
        downloads = (self.connection.parallel(lambda doc: (doc, self._fetch(doc, max_bytes)), todo)
                     if with_content else contextlib.nullcontext((doc, None) for doc in todo))
        with downloads as results:
            count = failed = in_a_row = 0
            for doc, fetched in results:
                record, level = self._outcome(doc, fetched, max_bytes)
                if record is None:
                    failed += 1
                    in_a_row += 0 if fetched is not None and fetched.status == "gone" else 1
                    if in_a_row >= MAX_FAILURES_IN_A_ROW:
                        raise FortnoxAPIError(f"attachments: {in_a_row} downloads in a row failed (the "
                                              f"last: {fetched.reason if fetched else '?'}); stopping")
                    continue
                in_a_row = 0
                emitted.add(EmittedSet.key(tenant, doc, level))
                count += 1
                self.emitted_files = count
                if count % self.STATE_MSG_FREQUENCY == 0:  # the SDK writes STATE after this record
                    self.stream_state[STATE_KEY] = emitted.dump()
                    self.logger.info("attachments: %d of %d documents done", count, len(todo))
                yield record
                if release:  # written already: let the base64 text go before the next download is read
                    record["content"] = None
        if failed:
            self.logger.warning("attachments: %d of %d documents could not be downloaded; they are "
                                "tried again next run", failed, len(todo))

    def _fetch(self, doc: Document, max_bytes: int) -> Download:
        return download(self.connection, doc.path, doc.params, endpoint=doc.endpoint,
                        file_name=doc.file_name, max_bytes=max_bytes)

    def _outcome(self, doc: Document, fetched: Download | None,
                 max_bytes: int) -> tuple[dict[str, Any] | None, str]:
        """The record for a document (None when it failed) and how it was emitted."""
        if fetched is None:
            return self._record(doc, skipped_reason="metadata only (include_attachment_content is "
                                                    "false): size, sha256 and content type need the "
                                                    "bytes"), METADATA
        if fetched.status == "too_large":
            self.logger.warning("attachments: %s is skipped: %s", self._describe(doc), fetched.reason)
            return self._record(doc, size=fetched.size, skipped_reason=fetched.reason), over_limit(max_bytes)
        if not fetched.ok:
            self.logger.warning("attachments: %s could not be downloaded, it is tried again next run: %s",
                                self._describe(doc), fetched.reason)
            return None, ""
        if fetched.type_warning:
            self.logger.warning("attachments: %s is emitted as %s: %s", self._describe(doc),
                                fetched.content_type, fetched.type_warning)
        name = doc.file_name
        if not name and fetched.file_name and fetched.file_name != doc.file_id:
            name = fetched.file_name
        record = self._record(doc, file_name=name, content_type=fetched.content_type,
                              size=fetched.size, sha256=fetched.sha256)
        record["content"] = fetched.content_base64()
        return record, CONTENT
