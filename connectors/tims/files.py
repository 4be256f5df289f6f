"""TIMS file exchange: orders to an outbox, items/stock/shipments/invoices/payments from an inbox.

ASSUMED INTERFACE. Older TIMS generations exchange CSV, tab-delimited or fixed-width files
(reference note §3, TrackAbout); their layouts are not public, so the layouts here are OUR
DESIGN and every column is configuration (Connection.options["files"]).

Storage is Django's Storage API: FileSystemStorage on a local folder, or django-storages'
SFTPStorage in production (configured, not exercised by the tests; it needs paramiko).

Conventions (chosen, and the same both ways):
- **Completion marker.** A data file is complete only once `<name><marker_suffix>` (".done")
  exists beside it. We write the data first and the marker after; we read a file only when
  its marker is there, so a file still being written is never read. The Storage API has no
  rename, which rules out temp-name-then-rename over SFTP. For producers that cannot write
  markers, `ready: "settled"` reads a file once it has not changed for `settle_seconds`.
- **Never read twice, never deleted.** A read file is copied to processed/ (or failed/, with
  a `.reason.txt` beside it) and only then removed from the inbox. Its content hash is kept
  under processed/.seen/, so the same file dropped again goes to failed/ as a duplicate.
- **Bad rows don't sink a file.** A malformed row is reported (file, row number, column,
  value, problem) and the other rows still load; the file goes to processed/ with the row
  errors in its reason file. A file with no good row, or an empty (0-byte) file, goes to
  failed/. A file with a header and no rows is processed with nothing to load.
- **Orders out** go one file per order, named from customer_po, so sending the same order
  twice finds the file (in the outbox, or in outbox/taken/ where TIMS puts what it consumed)
  and does not write another.
"""

import csv
import fnmatch
import hashlib
import io
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import DataError, TransientError
from connectors.tims.records import (
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
    SalesOrder,
    ShipmentRecord,
    StockRecord,
)
from connectors.tims.translate import (
    invoice_from_record,
    parse_record,
    payment_from_record,
    product_from_item,
    shipment_from_record,
    stock_from_record,
)

REASON_SUFFIX = ".reason.txt"
# Names a writer uses while a file is incomplete: never read.
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".filepart")


class FileKind(StrEnum):
    ITEMS = "items"
    STOCK = "stock"
    SHIPMENTS = "shipments"
    INVOICES = "invoices"
    PAYMENTS = "payments"


class FileFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"  # tab-delimited
    FIXED = "fixed"  # fixed-width columns


class ReadyRule(StrEnum):
    MARKER = "marker"
    SETTLED = "settled"


class OrderLayout(StrEnum):
    HEADER_LINES = "header_lines"  # H row, then L rows and F (fee) rows; no header row
    LINE_ROWS = "line_rows"  # header row; one row per line, order fields repeated


class Column(BaseModel):
    """One column of a file: our field name, where it is, how its text reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    header: str | None = None  # CSV/TSV header text, when it differs from `name`
    start: int | None = Field(default=None, ge=1)  # fixed width: 1-based first character
    width: int | None = Field(default=None, ge=1)
    date_format: str | None = None  # strptime format, e.g. "%Y%m%d"; else ISO 8601
    implied_decimals: int = Field(default=0, ge=0, le=6)  # "001250" with 2 -> 12.50

    @property
    def label(self) -> str:
        return self.header or self.name


class FileSpec(BaseModel):
    """How one kind of inbox file looks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = "*.csv"
    format: FileFormat = FileFormat.CSV
    delimiter: str | None = None
    has_header: bool = True
    encoding: str = "utf-8"
    columns: tuple[Column, ...] = ()

    @model_validator(mode="after")
    def _fixed_needs_positions(self) -> "FileSpec":
        if self.format is FileFormat.FIXED:
            if not self.columns:
                raise ValueError("a fixed-width file needs columns with start and width")
            for column in self.columns:
                if column.start is None or column.width is None:
                    raise ValueError(f"fixed-width column {column.name!r} needs start and width")
        return self

    @property
    def separator(self) -> str:
        return self.delimiter or ("\t" if self.format is FileFormat.TSV else ",")


DEFAULT_COLUMNS: dict[FileKind, tuple[str, ...]] = {
    FileKind.ITEMS: (
        "item_code",
        "description",
        "uom",
        "list_price",
        "taxable",
        "weight",
        "active",
        "stocked",
        "hazmat",
        "modified_at",
    ),
    FileKind.STOCK: ("item_code", "location_id", "on_hand", "allocated", "available", "as_of"),
    FileKind.SHIPMENTS: (
        "shipment_id",
        "order_number",
        "customer_po",
        "ship_date",
        "carrier",
        "tracking_number",
        "line_no",
        "item_code",
        "quantity_shipped",
    ),
    FileKind.INVOICES: (
        "invoice_number",
        "order_number",
        "customer_po",
        "customer_code",
        "invoice_date",
        "due_date",
        "currency",
        "subtotal",
        "tax_total",
        "fees_total",
        "total",
        "balance_due",
        "status",
    ),
    FileKind.PAYMENTS: (
        "payment_id",
        "customer_code",
        "customer_po",
        "date",
        "amount",
        "currency",
        "method",
        "reference",
        "invoice_number",
    ),
}


def _default_specs() -> dict[FileKind, FileSpec]:
    return {
        kind: FileSpec(pattern=f"{kind}*.csv", columns=tuple(Column(name=n) for n in names))
        for kind, names in DEFAULT_COLUMNS.items()
    }


ORDER_HEADER_COLUMNS = (
    "customer_po",
    "customer_code",
    "order_date",
    "location_id",
    "ship_to_code",
    "ship_to_name",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_region",
    "ship_to_postal_code",
    "ship_to_country",
    "ship_via",
    "will_call",
    "blanket_po",
    "override_backorder",
    "currency",
    "freight",
    "tax_total",
    "notes",
)
ORDER_LINE_COLUMNS = (
    "line_no",
    "item_code",
    "quantity",
    "uom",
    "unit_price",
    "discount",
    "tax_code",
    "description",
)
ORDER_FEE_COLUMNS = ("code", "description", "amount")


class FileExchangeSettings(BaseModel):
    """Connection.options["files"]. Folders are relative to the storage's root."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage: dict[str, Any] = Field(default_factory=dict)  # see build_storage()
    outbox: str = "outbox"
    outbox_taken: str = "outbox/taken"
    inbox: str = "inbox"
    processed: str = "processed"
    failed: str = "failed"
    ready: ReadyRule = ReadyRule.MARKER
    marker_suffix: str = ".done"
    settle_seconds: float = Field(default=60.0, ge=0)
    order_layout: OrderLayout = OrderLayout.HEADER_LINES
    order_delimiter: str = ","
    order_encoding: str = "utf-8"
    # TIMS header text -> our name, for order files and inbox files without column specs.
    aliases: dict[str, str] = Field(default_factory=dict)
    specs: dict[FileKind, FileSpec] = Field(default_factory=_default_specs)

    @model_validator(mode="before")
    @classmethod
    def _merge_specs(cls, data: Any) -> Any:
        # A connection names only the kinds it changes; the others keep their defaults.
        if isinstance(data, dict) and isinstance(data.get("specs"), dict):
            data = {**data, "specs": {**_default_specs(), **data["specs"]}}
        return data

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> "FileExchangeSettings":
        try:
            return cls.model_validate(dict((options or {}).get("files") or {}))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = "files." + ".".join(str(p) for p in first["loc"] if p != "[key]")
            raise DataError(
                f"TIMS file exchange setting {where} is invalid: {first['msg']}",
                field=where,
                value=repr(first.get("input"))[:80],
            ) from None

    def header_for(self, ours: str) -> str:
        for theirs, name in self.aliases.items():
            if name == ours:
                return theirs
        return ours


def build_storage(config: Mapping[str, Any], credentials: Mapping[str, Any] | None = None):
    """The Storage a connection's files live on.

    {"backend": "filesystem", "location": "/srv/tims"} or
    {"backend": "sftp", "host": "tims.example.com", "root_path": "/exchange", "port": 22}
    with username/password or private key in the connection's (encrypted) credentials.
    """
    backend = config.get("backend", "filesystem")
    if backend == "filesystem":
        if not config.get("location"):
            raise DataError("files.storage.location is required", field="files.storage.location")
        return FileSystemStorage(location=config["location"])
    if backend == "sftp":
        # Configured, not exercised by tests: needs paramiko (django-storages[sftp]).
        try:
            from storages.backends.sftpstorage import SFTPStorage
        except ImportError as exc:
            raise DataError(
                f"files.storage.backend 'sftp' needs paramiko (django-storages[sftp]): {exc}",
                field="files.storage.backend",
                value="sftp",
            ) from None

        creds = dict(credentials or {})
        params = {
            k: creds[k] for k in ("username", "password", "pkey", "key_filename") if k in creds
        }
        params["port"] = int(config.get("port", 22))
        return SFTPStorage(
            host=config["host"],
            params=params,
            root_path=config.get("root_path", ""),
            interactive=False,
            known_host_file=config.get("known_host_file"),
        )
    raise DataError(
        f"files.storage.backend {backend!r} is not 'filesystem' or 'sftp'",
        field="files.storage.backend",
        value=backend,
    )


@dataclass(frozen=True)
class RowError:
    file: str
    row: int  # physical line number in the file, 1-based (the header is row 1)
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: value {self.value!r}: {self.message}"


@dataclass
class InboxFile:
    """One inbox file after reading: its documents, its bad rows, and where it went."""

    name: str
    kind: FileKind
    status: str = ""  # processed | failed | deferred
    reason: str = ""
    moved_to: str = ""
    documents: list[Any] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class SentOrder:
    name: str
    created: bool


# -- reading rows --------------------------------------------------------------------------


def read_rows(
    content: bytes, spec: FileSpec, *, aliases: Mapping[str, str] | None = None
) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    """(row number, {our name: text}) for each data row, and (row, problem) for broken rows."""
    text = content.decode(spec.encoding, errors="strict").lstrip("\ufeff")
    rows: list[tuple[int, dict[str, str]]] = []
    broken: list[tuple[int, str]] = []
    lines = text.splitlines()
    if spec.format is FileFormat.FIXED:
        for number, line in enumerate(lines, start=1):
            if (number == 1 and spec.has_header) or not line.strip():
                continue
            record = {}
            for column in spec.columns:
                start = (column.start or 1) - 1
                record[column.name] = line[start : start + (column.width or 0)].strip()
            rows.append((number, record))
        return rows, broken
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=spec.separator)
    labels: list[str] | None = None
    by_label = {c.label: c.name for c in spec.columns}
    for values in reader:
        number = reader.line_num
        if labels is None and spec.has_header:
            labels = [v.strip() for v in values]
            continue
        if not any(v.strip() for v in values):
            continue
        if labels is None:
            names = [c.name for c in spec.columns]
        else:
            names = [by_label.get(label) or (aliases or {}).get(label, label) for label in labels]
        if len(values) != len(names):
            broken.append((number, f"{len(values)} fields where the header has {len(names)}"))
            continue
        rows.append((number, {n: v.strip() for n, v in zip(names, values, strict=True)}))
    return rows, broken


def _clean(row: dict[str, str], spec: FileSpec) -> tuple[dict[str, Any], str | None]:
    """Apply column formats; empty text means "not given". Returns (values, bad column)."""
    columns = {c.name: c for c in spec.columns}
    values: dict[str, Any] = {}
    for name, text in row.items():
        if text == "":
            continue
        column = columns.get(name)
        if column is not None and column.date_format:
            try:
                text = datetime.strptime(text, column.date_format).isoformat()
            except ValueError:
                return values, name
        if column is not None and column.implied_decimals:
            try:
                text = str(Decimal(text).scaleb(-column.implied_decimals))
            except InvalidOperation:
                return values, name
        values[name] = text
    return values, None


def _record_for(kind: FileKind, values: dict[str, Any]) -> Any:
    if kind is FileKind.ITEMS:
        return parse_record(ItemRecord, values)
    if kind is FileKind.STOCK:
        return parse_record(StockRecord, values)
    if kind is FileKind.INVOICES:
        return parse_record(InvoiceRecord, values)
    if kind is FileKind.SHIPMENTS:
        line_fields = ("line_no", "item_code", "quantity_shipped")
        line = {k: values.pop(k) for k in line_fields if k in values}
        return parse_record(ShipmentRecord, {**values, "lines": [line] if line else []})
    invoice = values.pop("invoice_number", None)
    if invoice:
        values["applied"] = [{"invoice_number": invoice, "amount": values.get("amount")}]
    return parse_record(PaymentRecord, values)


TRANSLATE: dict[FileKind, Callable[[Any], Any]] = {
    FileKind.ITEMS: product_from_item,
    FileKind.STOCK: stock_from_record,
    FileKind.SHIPMENTS: shipment_from_record,
    FileKind.INVOICES: invoice_from_record,
    FileKind.PAYMENTS: payment_from_record,
}


def parse_file(
    name: str,
    content: bytes,
    kind: FileKind,
    spec: FileSpec,
    *,
    aliases: Mapping[str, str] | None = None,
) -> tuple[list[Any], list[RowError]]:
    """Canonical documents from one file, and every bad row (the good rows still load)."""
    try:
        rows, broken = read_rows(content, spec, aliases=aliases)
    except UnicodeDecodeError as exc:
        raise DataError(f"{name} is not {spec.encoding} text: {exc}", field="encoding") from None
    errors = [RowError(name, number, "", "", problem) for number, problem in broken]
    labels = {c.name: c.label for c in spec.columns}
    records: list[tuple[int, Any]] = []
    for number, row in rows:
        values, bad_column = _clean(row, spec)
        if bad_column is not None:
            errors.append(
                RowError(
                    name,
                    number,
                    labels.get(bad_column, bad_column),
                    row[bad_column],
                    "does not match the column's format",
                )
            )
            continue
        try:
            records.append((number, _record_for(kind, values)))
        except DataError as exc:
            column = exc.field.split(".")[-1]
            errors.append(
                RowError(
                    name,
                    number,
                    labels.get(column, column),
                    row.get(column, ""),
                    exc.details.get("errors", [exc.message])[0].split(": ")[-1],
                )
            )
    if kind is FileKind.SHIPMENTS:
        records = _group_shipments(records)
    documents = []
    for number, record in records:
        try:
            documents.append(TRANSLATE[kind](record))
        except DataError as exc:
            errors.append(RowError(name, number, exc.field, str(exc.value or ""), exc.message))
    errors.sort(key=lambda e: e.row)
    return documents, errors


def _group_shipments(records: list[tuple[int, ShipmentRecord]]):
    # One row per shipped line: rows of one shipment_id make one shipment.
    grouped: dict[str, tuple[int, ShipmentRecord]] = {}
    for number, record in records:
        if record.shipment_id in grouped:
            grouped[record.shipment_id][1].lines.extend(record.lines)
        else:
            grouped[record.shipment_id] = (number, record)
    return list(grouped.values())


# -- writing rows --------------------------------------------------------------------------


def render_rows(rows: Iterable[Mapping[str, Any]], spec: FileSpec) -> bytes:
    """A file in `spec`'s format from rows in our names (the simulator writes inbox files)."""
    out = io.StringIO(newline="")
    if spec.format is FileFormat.FIXED:
        lines = []
        for row in rows:
            width = max((c.start or 1) + (c.width or 0) - 1 for c in spec.columns)
            buffer = [" "] * width
            for column in spec.columns:
                text = _fixed_text(row.get(column.name), column)
                start = (column.start or 1) - 1
                buffer[start : start + (column.width or 0)] = list(text)
            lines.append("".join(buffer).rstrip())
        return ("\n".join(lines) + "\n").encode(spec.encoding)
    writer = csv.writer(out, delimiter=spec.separator, lineterminator="\n")
    if spec.has_header:
        writer.writerow([c.label for c in spec.columns])
    for row in rows:
        writer.writerow([_text(row.get(c.name), c) for c in spec.columns])
    return out.getvalue().encode(spec.encoding)


def _text(value: Any, column: Column | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if column is not None and column.date_format and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime(column.date_format)
        except ValueError:
            return value
    if column is not None and column.implied_decimals:
        return str(int(Decimal(str(value)).scaleb(column.implied_decimals)))
    return str(value)


def _fixed_text(value: Any, column: Column) -> str:
    return _text(value, column)[: column.width or 0].ljust(column.width or 0)


def render_order(order: SalesOrder, settings: FileExchangeSettings) -> bytes:
    """One order as CSV in the connection's layout (header + lines, or one row per line)."""
    data = order.wire()
    header = {k: v for k, v in data.items() if k not in ("lines", "fees", "ship_to")}
    for key, value in (data.get("ship_to") or {}).items():
        header[f"ship_to_{key}"] = value
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=settings.order_delimiter, lineterminator="\n")
    name = settings.header_for
    if settings.order_layout is OrderLayout.HEADER_LINES:
        writer.writerow(["H", *(_text(header.get(c)) for c in ORDER_HEADER_COLUMNS)])
        for line in data["lines"]:
            writer.writerow(["L", *(_text(line.get(c)) for c in ORDER_LINE_COLUMNS)])
        for fee in data.get("fees") or []:
            writer.writerow(["F", *(_text(fee.get(c)) for c in ORDER_FEE_COLUMNS)])
    else:
        columns = [*ORDER_HEADER_COLUMNS, "line_type", *ORDER_LINE_COLUMNS]
        writer.writerow([name(c) for c in columns])
        for line in data["lines"]:
            row = {**header, **line, "line_type": "item"}
            writer.writerow([_text(row.get(c)) for c in columns])
        for number, fee in enumerate(data.get("fees") or [], start=len(data["lines"]) + 1):
            row = {
                **header,
                "line_type": "fee",
                "line_no": number,
                "item_code": fee["code"],
                "description": fee.get("description", ""),
                "quantity": "1",
                "unit_price": fee["amount"],
            }
            writer.writerow([_text(row.get(c)) for c in columns])
    return out.getvalue().encode(settings.order_encoding)


def read_order_file(content: bytes, settings: FileExchangeSettings) -> dict[str, Any]:
    """An order file back into one SalesOrder dict (our names): what TIMS (the simulator) reads."""
    text = content.decode(settings.order_encoding)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=settings.order_delimiter))
    order: dict[str, Any] = {"lines": [], "fees": []}
    if settings.order_layout is OrderLayout.HEADER_LINES:
        for row in rows:
            kind, values = row[0], row[1:]
            if kind == "H":
                order.update(_non_empty(zip(ORDER_HEADER_COLUMNS, values, strict=False)))
            elif kind == "L":
                order["lines"].append(_non_empty(zip(ORDER_LINE_COLUMNS, values, strict=False)))
            elif kind == "F":
                order["fees"].append(_non_empty(zip(ORDER_FEE_COLUMNS, values, strict=False)))
    else:
        labels = [settings.aliases.get(label, label) for label in rows[0]]
        for values in rows[1:]:
            row = _non_empty(zip(labels, values, strict=False))
            line = {c: row.pop(c) for c in ORDER_LINE_COLUMNS if c in row}
            line_type = row.pop("line_type", "item")
            order.update(row)
            if line_type == "fee":
                order["fees"].append(
                    {
                        "code": line["item_code"],
                        "description": line.get("description", ""),
                        "amount": line["unit_price"],
                    }
                )
            else:
                order["lines"].append(line)
    inline = [k for k in order if k.startswith("ship_to_") and k != "ship_to_code"]
    ship_to = {k.removeprefix("ship_to_"): order.pop(k) for k in inline}
    if ship_to:
        order["ship_to"] = ship_to
    for flag in ("will_call", "override_backorder"):
        if flag in order:
            order[flag] = order[flag].upper() in ("Y", "TRUE", "1")
    return order


def _non_empty(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k: v for k, v in pairs if v != ""}


# -- the exchange ---------------------------------------------------------------------------


def order_file_name(customer_po: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", customer_po)
    return f"order-{safe}.csv"


class FileExchange:
    """Writes orders to the outbox and reads the inbox, on any Django Storage."""

    def __init__(
        self,
        storage: Storage,
        settings: FileExchangeSettings | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.storage = storage
        self.settings = settings or FileExchangeSettings()
        self._now = now

    @classmethod
    def from_connection(cls, connection: Any) -> "FileExchange":
        settings = FileExchangeSettings.from_options(connection.options)
        return cls(build_storage(settings.storage, connection.credentials), settings)

    # -- outbox ------------------------------------------------------------------------

    def send_order(self, order: SalesOrder | Mapping[str, Any]) -> SentOrder:
        """Write one order file (data, then its marker) unless this customer_po was sent."""
        record = order if isinstance(order, SalesOrder) else parse_record(SalesOrder, dict(order))
        s = self.settings
        file_name = order_file_name(record.customer_po)
        path = posixpath.join(s.outbox, file_name)
        for folder in (s.outbox, s.outbox_taken):
            if self.storage.exists(posixpath.join(folder, file_name)):
                return SentOrder(posixpath.join(folder, file_name), created=False)
        saved = self.storage.save(path, ContentFile(render_order(record, s)))
        if saved != path:  # written concurrently by another worker: keep theirs, drop ours
            self.storage.delete(saved)
            return SentOrder(path, created=False)
        self.storage.save(path + s.marker_suffix, ContentFile(b""))
        return SentOrder(path, created=True)

    # -- inbox -------------------------------------------------------------------------

    def ready_files(self, kind: FileKind) -> list[str]:
        """Inbox files of this kind that are complete (marker, or settled), oldest name first."""
        s = self.settings
        spec = s.specs[kind]
        try:
            _, files = self.storage.listdir(s.inbox)
        except (FileNotFoundError, OSError):
            return []
        present = set(files)
        ready = []
        for name in sorted(files):
            if (
                name.startswith(".")
                or name.endswith(s.marker_suffix)
                or name.endswith(TEMPORARY_SUFFIXES)
                or not fnmatch.fnmatch(name, spec.pattern)
            ):
                continue
            path = posixpath.join(s.inbox, name)
            if s.ready is ReadyRule.MARKER:
                if name + s.marker_suffix not in present:
                    continue
            else:
                modified = self.storage.get_modified_time(path)
                if modified.tzinfo is None:
                    modified = modified.replace(tzinfo=UTC)
                if (self._now() - modified).total_seconds() < s.settle_seconds:
                    continue
            ready.append(path)
        return ready

    def receive(
        self, kind: FileKind, handle: Callable[[InboxFile], None] | None = None
    ) -> list[InboxFile]:
        """Read every ready file of `kind`, hand it to `handle`, then move it out of the inbox.

        A TransientError from `handle` leaves the file where it is, for the next run.
        """
        return [self._receive_one(path, kind, handle) for path in self.ready_files(kind)]

    def _receive_one(
        self, path: str, kind: FileKind, handle: Callable[[InboxFile], None] | None
    ) -> InboxFile:
        s = self.settings
        base = posixpath.basename(path)
        result = InboxFile(name=base, kind=kind)
        with self.storage.open(path, "rb") as stream:
            content = stream.read()
        digest = hashlib.sha256(content).hexdigest()
        seen_path = posixpath.join(s.processed, ".seen", digest)
        if not content:
            return self._move(path, content, result, "failed", "the file is empty (0 bytes)")
        if self.storage.exists(seen_path):
            with self.storage.open(seen_path, "rb") as stream:
                first = stream.read().decode("utf-8", "replace").strip()
            reason = f"duplicate: the same content was already read as {first}"
            return self._move(path, content, result, "failed", reason)
        try:
            result.documents, result.errors = parse_file(
                base, content, kind, s.specs[kind], aliases=s.aliases
            )
        except DataError as exc:
            return self._move(path, content, result, "failed", exc.message)
        if result.errors and not result.documents:
            reason = f"no valid row; {len(result.errors)} bad row(s):\n" + _lines(result.errors)
            return self._move(path, content, result, "failed", reason)
        if handle is not None:
            try:
                handle(result)
            except TransientError as exc:
                result.status, result.reason = "deferred", str(exc)
                return result
        self.storage.save(seen_path, ContentFile(f"{base} at {self._stamp()}".encode()))
        reason = ""
        if result.errors:
            reason = f"{len(result.errors)} bad row(s) not loaded:\n" + _lines(result.errors)
        return self._move(path, content, result, "processed", reason)

    def _move(
        self, path: str, content: bytes, result: InboxFile, status: str, reason: str
    ) -> InboxFile:
        s = self.settings
        folder = s.processed if status == "processed" else s.failed
        target = posixpath.join(folder, f"{self._stamp()}-{posixpath.basename(path)}")
        saved = self.storage.save(target, ContentFile(content))
        if reason:
            self.storage.save(saved + REASON_SUFFIX, ContentFile(reason.encode()))
        # Only now, with the copy safe, does the inbox lose the file (and its marker).
        self.storage.delete(path)
        if self.storage.exists(path + s.marker_suffix):
            self.storage.delete(path + s.marker_suffix)
        result.status, result.reason, result.moved_to = status, reason, saved
        return result

    def _stamp(self) -> str:
        return self._now().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _lines(errors: list[RowError]) -> str:
    return "\n".join(str(error) for error in errors)
