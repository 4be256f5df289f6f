"""The simulator's file-exchange mode: TIMS (as we assume it) consuming the outbox and writing
inbox files, on any Django Storage.

ASSUMED INTERFACE: layouts are our design (connectors/tims/files.py). One `run_once()` takes
every complete order file from the outbox into the simulated TIMS (moving it to outbox/taken/,
or outbox/rejected/ with a reason), lets orders progress, then writes new inbox files, each
followed by its completion marker: items once, stock on every run, and the shipments,
invoices and payments not yet exported.
"""

import posixpath
from datetime import UTC, datetime
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from connectors.tims.files import FileExchangeSettings, FileKind, read_order_file, render_rows
from connectors.tims.simulator.state import SimState, ValidationFailed

REJECTED = "outbox/rejected"


class FileExchangeSimulator:
    def __init__(
        self, state: SimState, storage: Storage, settings: FileExchangeSettings | None = None
    ) -> None:
        self.state = state
        self.storage = storage
        self.settings = settings or FileExchangeSettings()
        self.exported: dict[FileKind, set[str]] = {kind: set() for kind in FileKind}
        self.taken: list[str] = []
        self.rejected: list[tuple[str, str]] = []
        self._runs = 0

    def run_once(self) -> list[str]:
        """Consume the outbox, then write inbox files; returns the inbox files written."""
        with self.state.lock:
            self._consume_orders()
            self.state.progress()
            written = self._export()
        self._runs += 1
        return written

    # -- outbox ------------------------------------------------------------------------

    def _consume_orders(self) -> None:
        s = self.settings
        try:
            _, files = self.storage.listdir(s.outbox)
        except (FileNotFoundError, OSError):
            return
        present = set(files)
        for name in sorted(files):
            if not name.startswith("order-") or name.endswith(s.marker_suffix):
                continue
            if name + s.marker_suffix not in present:
                continue  # still being written
            path = posixpath.join(s.outbox, name)
            with self.storage.open(path, "rb") as stream:
                content = stream.read()
            folder, reason = s.outbox_taken, ""
            try:
                self.state.create_order(read_order_file(content, s))
                self.taken.append(name)
            except ValidationFailed as failed:
                if failed.code == "duplicate_customer_po":
                    self.taken.append(name)
                else:
                    folder, reason = REJECTED, f"{failed.field}: {failed.message}"
                    self.rejected.append((name, reason))
            except (ValueError, IndexError, KeyError) as exc:
                folder, reason = REJECTED, f"unreadable order file: {exc!r}"
                self.rejected.append((name, reason))
            target = self.storage.save(posixpath.join(folder, name), ContentFile(content))
            if reason:
                self.storage.save(target + ".reason.txt", ContentFile(reason.encode()))
            self.storage.delete(path)
            self.storage.delete(path + s.marker_suffix)

    # -- inbox -------------------------------------------------------------------------

    def _export(self) -> list[str]:
        state = self.state
        written = []
        if self._runs == 0:
            written.append(self._write(FileKind.ITEMS, list(state.items.values())))
        written.append(self._write(FileKind.STOCK, list(state.stock.values())))
        for kind, table, key in (
            (FileKind.SHIPMENTS, state.shipments, "shipment_id"),
            (FileKind.INVOICES, state.invoices, "invoice_number"),
            (FileKind.PAYMENTS, state.payments, "payment_id"),
        ):
            new = [r for r in table.values() if r[key] not in self.exported[kind]]
            if new:
                written.append(self._write(kind, new))
                self.exported[kind].update(r[key] for r in new)
        return written

    def _write(self, kind: FileKind, records: list[dict[str, Any]]) -> str:
        s = self.settings
        spec = s.specs[kind]
        rows = list(_flatten(kind, records))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = spec.pattern.replace("*", f"-{stamp}", 1) if "*" in spec.pattern else spec.pattern
        content = ContentFile(render_rows(rows, spec))
        path = self.storage.save(posixpath.join(s.inbox, name), content)
        self.storage.save(path + s.marker_suffix, ContentFile(b""))
        return path


def _flatten(kind: FileKind, records: list[dict[str, Any]]):
    for record in records:
        if kind is FileKind.SHIPMENTS:
            for line in record.get("lines") or [{}]:
                yield {**record, **line}
        elif kind is FileKind.PAYMENTS:
            applied = record.get("applied") or []
            yield {**record, "invoice_number": applied[0]["invoice_number"] if applied else ""}
        else:
            yield record
