"""The file exchange: inbox reading (good and bad rows, partial writes, duplicates, empty
files), the outbox, and the simulator's file mode end to end."""

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from connectors.canonical import Invoice, Payment, Product, Shipment, StockLevel
from connectors.errors import DataError, TransientError
from connectors.models import Connection, System
from connectors.tims.files import (
    FileExchange,
    FileExchangeSettings,
    FileKind,
    OrderLayout,
    read_order_file,
)
from connectors.tims.records import SalesOrder
from connectors.tims.simulator.files import FileExchangeSimulator
from connectors.tims.simulator.state import SimState

from .test_contract import ORDER

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

STOCK_HEADER = "item_code,location_id,on_hand,allocated,available,as_of\n"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def exchange(storage, clock):
    return FileExchange(storage, FileExchangeSettings(), now=clock)


def drop(storage, name: str, content: bytes | str, *, marker: bool = True) -> None:
    data = content.encode() if isinstance(content, str) else content
    storage.save(f"inbox/{name}", ContentFile(data))
    if marker:
        storage.save(f"inbox/{name}.done", ContentFile(b""))


def listing(storage, folder: str) -> list[str]:
    try:
        return sorted(storage.listdir(folder)[1])
    except FileNotFoundError:
        return []


def test_good_rows_load_and_bad_rows_are_reported(storage, exchange):
    drop(
        storage,
        "stock-1.csv",
        STOCK_HEADER
        + "CYL-AR-300,MAIN,10,2,8,2026-11-24T08:00:00+00:00\n"
        + "CYL-CO2-50,MAIN,abc,0,5,2026-11-24T08:00:00+00:00\n"
        + ",EAST,1,0,1,2026-11-24T08:00:00+00:00\n"
        + "ROD-7018-10,EAST,1,0\n"
        + "GLV-TIG-L,WEST,4,0,4,2026-11-24\n",
    )
    [result] = exchange.receive(FileKind.STOCK)
    assert result.status == "processed"
    assert [d.sku for d in result.documents] == ["CYL-AR-300", "GLV-TIG-L"]
    assert all(isinstance(d, StockLevel) for d in result.documents)
    assert result.documents[0].quantity == Decimal("8")
    assert result.documents[1].as_of == datetime(2026, 11, 24, tzinfo=UTC)
    errors = [(e.file, e.row, e.column, e.value) for e in result.errors]
    assert errors == [
        ("stock-1.csv", 3, "on_hand", "abc"),
        ("stock-1.csv", 4, "item_code", ""),
        ("stock-1.csv", 5, "", ""),
    ]
    assert "decimal" in result.errors[0].message
    assert "4 fields where the header has 6" in result.errors[2].message
    assert "stock-1.csv row 3, column 'on_hand': value 'abc'" in str(result.errors[0])
    # moved, with the row errors beside it; nothing left in the inbox, nothing deleted
    assert listing(storage, "inbox") == []
    moved = listing(storage, "processed")
    assert moved == [
        f"{NOW:%Y%m%dT%H%M%S%f}Z-stock-1.csv",
        f"{NOW:%Y%m%dT%H%M%S%f}Z-stock-1.csv.reason.txt",
    ]
    reason = storage.open(f"processed/{moved[1]}").read().decode()
    assert "3 bad row(s) not loaded" in reason and "row 3, column 'on_hand'" in reason


def test_a_file_still_being_written_is_not_read(storage, exchange):
    drop(storage, "stock-2.csv", STOCK_HEADER + "CYL-AR-300,MAIN,1,0,1,2026-11-24", marker=False)
    drop(storage, "stock-3.csv.part", STOCK_HEADER, marker=True)
    assert exchange.receive(FileKind.STOCK) == []
    assert "stock-2.csv" in listing(storage, "inbox")
    # the writer finishes: the rest of the file, then the marker
    storage.delete("inbox/stock-2.csv")
    drop(storage, "stock-2.csv", STOCK_HEADER + "CYL-AR-300,MAIN,1,0,1,2026-11-24\n")
    [result] = exchange.receive(FileKind.STOCK)
    assert result.status == "processed" and len(result.documents) == 1
    assert listing(storage, "inbox") == ["stock-3.csv.part", "stock-3.csv.part.done"]


def test_settled_rule_waits_for_the_file_to_stop_changing(storage, clock):
    exchange = FileExchange(
        storage, FileExchangeSettings(ready="settled", settle_seconds=30), now=clock
    )
    drop(storage, "stock-4.csv", STOCK_HEADER + "CYL-AR-300,MAIN,1,0,1,2026-11-24\n", marker=False)
    clock.now = datetime.now(UTC)
    assert exchange.receive(FileKind.STOCK) == []
    clock.now = datetime.now(UTC) + timedelta(seconds=31)
    [result] = exchange.receive(FileKind.STOCK)
    assert len(result.documents) == 1


def test_the_same_file_dropped_twice_is_read_once(storage, exchange, clock):
    content = STOCK_HEADER + "CYL-AR-300,MAIN,10,2,8,2026-11-24\n"
    drop(storage, "stock-5.csv", content)
    [first] = exchange.receive(FileKind.STOCK)
    assert first.status == "processed" and len(first.documents) == 1
    clock.now = NOW + timedelta(hours=1)
    drop(storage, "stock-5.csv", content)
    [second] = exchange.receive(FileKind.STOCK)
    assert second.status == "failed" and second.documents == []
    assert second.reason.startswith("duplicate: the same content was already read as stock-5.csv")
    assert listing(storage, "inbox") == []
    assert len([n for n in listing(storage, "processed") if n.endswith("stock-5.csv")]) == 1
    assert len([n for n in listing(storage, "failed") if n.endswith("stock-5.csv")]) == 1
    assert exchange.receive(FileKind.STOCK) == []


def test_empty_files(storage, exchange):
    drop(storage, "stock-6.csv", b"")
    drop(storage, "stock-7.csv", STOCK_HEADER)
    empty, header_only = exchange.receive(FileKind.STOCK)
    assert empty.status == "failed" and empty.reason == "the file is empty (0 bytes)"
    assert header_only.status == "processed" and header_only.documents == []
    assert header_only.errors == []
    failed = listing(storage, "failed")
    assert any(n.endswith("stock-6.csv.reason.txt") for n in failed)


def test_a_file_with_no_good_row_fails_and_names_the_rows(storage, exchange):
    drop(storage, "items-1.csv", "item_code,description,list_price\nA1,,1\nA2,Thing,x\n")
    [result] = exchange.receive(FileKind.ITEMS)
    assert result.status == "failed"
    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (2, "description", ""),
        (3, "list_price", "x"),
    ]
    assert "no valid row; 2 bad row(s)" in result.reason


def test_not_utf8_fails_the_file(storage, exchange):
    drop(storage, "items-2.csv", "item_code,description\nA1,Caf\xe9\n".encode("latin-1"))
    [result] = exchange.receive(FileKind.ITEMS)
    assert result.status == "failed" and "not utf-8 text" in result.reason


def test_a_transient_failure_while_loading_leaves_the_file(storage, exchange):
    drop(storage, "stock-8.csv", STOCK_HEADER + "CYL-AR-300,MAIN,1,0,1,2026-11-24\n")

    def handle(inbox_file):
        raise TransientError("database is busy")

    [result] = exchange.receive(FileKind.STOCK, handle)
    assert result.status == "deferred"
    assert "stock-8.csv" in listing(storage, "inbox")
    loaded = []
    [again] = exchange.receive(FileKind.STOCK, loaded.append)
    assert again.status == "processed" and loaded == [again]


def test_tab_delimited_and_fixed_width_from_connection_options(storage, clock):
    options = {
        "files": {
            "aliases": {"ITEM": "item_code", "WHSE": "location_id"},
            "specs": {
                "stock": {
                    "pattern": "QTY*.TXT",
                    "format": "fixed",
                    "has_header": False,
                    "columns": [
                        {"name": "item_code", "start": 1, "width": 12},
                        {"name": "location_id", "start": 13, "width": 4},
                        {"name": "on_hand", "start": 17, "width": 7, "implied_decimals": 2},
                        {"name": "available", "start": 24, "width": 7, "implied_decimals": 2},
                        {"name": "as_of", "start": 31, "width": 8, "date_format": "%Y%m%d"},
                    ],
                },
                "items": {"pattern": "items*.tsv", "format": "tsv"},
            },
        }
    }
    settings = FileExchangeSettings.from_options(options)
    exchange = FileExchange(storage, settings, now=clock)
    drop(
        storage,
        "QTY1124.TXT",
        "CYL-AR-300  MAIN0001250000010020261124\n"
        "CYL-CO2-50  EASTxx00000000000020261124\n"
        "GLV-TIG-L   WEST0000300000030020261399\n",
    )
    [stock] = exchange.receive(FileKind.STOCK)
    assert [(s.sku, s.warehouse, s.on_hand, s.quantity) for s in stock.documents] == [
        ("CYL-AR-300", "MAIN", Decimal("12.50"), Decimal("1.00"))
    ]
    assert [(e.row, e.column, e.value) for e in stock.errors] == [
        (2, "on_hand", "xx00000"),
        (3, "as_of", "20261399"),
    ]
    drop(storage, "items-3.tsv", "ITEM\tdescription\tlist_price\tactive\nA1\tArgon\t9.90\tN\n")
    [items] = exchange.receive(FileKind.ITEMS)
    [product] = items.documents
    assert isinstance(product, Product)
    assert (product.sku, product.price, product.active) == ("A1", Decimal("9.90"), False)
    # the default kinds still read CSV
    assert settings.specs[FileKind.INVOICES].pattern == "invoices*.csv"


def test_bad_file_settings_name_the_setting():
    with pytest.raises(DataError) as caught:
        FileExchangeSettings.from_options(
            {"files": {"specs": {"stock": {"format": "fixed", "columns": [{"name": "a"}]}}}}
        )
    assert caught.value.field.startswith("files.specs.stock")
    assert "start and width" in caught.value.message


@pytest.mark.parametrize("layout", list(OrderLayout))
def test_orders_go_out_once_as_csv_in_either_layout(storage, clock, layout):
    exchange = FileExchange(storage, FileExchangeSettings(order_layout=layout), now=clock)
    order = SalesOrder.model_validate(
        {
            **ORDER,
            "will_call": True,
            "ship_to_code": None,
            "ship_to": {"name": "Site", "line1": "1 A St", "city": "Waco", "country": "US"},
        }
    )
    sent = exchange.send_order(order)
    assert sent.created and sent.name == "outbox/order-PS-000123.csv"
    assert listing(storage, "outbox") == ["order-PS-000123.csv", "order-PS-000123.csv.done"]
    assert not exchange.send_order(order).created
    content = storage.open(sent.name).read()
    back = SalesOrder.model_validate(read_order_file(content, exchange.settings))
    assert back.customer_po == "PS-000123" and back.location_id == "EAST"
    assert back.will_call is True and back.override_backorder is True
    assert back.blanket_po == "BPO-77" and back.ship_to.city == "Waco"
    assert [(line.item_code, line.quantity) for line in back.lines] == [
        ("CYL-AR-300", Decimal("2")),
        ("GLV-TIG-L", Decimal("3")),
    ]
    assert [(f.code, f.amount) for f in back.fees] == [("DLV", Decimal("4.00"))]
    text = content.decode()
    if layout is OrderLayout.HEADER_LINES:
        assert text.startswith("H,PS-000123,C1001,")
        assert [line[0] for line in text.splitlines()] == ["H", "L", "L", "F"]
    else:
        assert text.splitlines()[0].startswith("customer_po,customer_code,")
        assert len(text.splitlines()) == 4  # header, two lines, one fee row


def test_simulator_file_mode_end_to_end(storage, exchange):
    state = SimState(seed=5, step_seconds=60)
    tims = FileExchangeSimulator(state, storage, exchange.settings)
    exchange.send_order(ORDER)
    bad = {
        **ORDER,
        "customer_po": "PS-BAD",
        "lines": [{"line_no": 1, "item_code": "X", "quantity": "1"}],
    }
    exchange.send_order(bad)
    tims.run_once()
    assert [o["customer_po"] for o in state.orders.values()] == ["PS-000123"]
    assert tims.rejected[0][0] == "order-PS-BAD.csv" and "item_code" in tims.rejected[0][1]
    assert listing(storage, "outbox/taken") == ["order-PS-000123.csv"]
    assert not exchange.send_order(ORDER).created  # already taken by TIMS
    [items] = exchange.receive(FileKind.ITEMS)
    assert len(items.documents) == 10 and items.errors == []
    [stock] = exchange.receive(FileKind.STOCK)
    assert len(stock.documents) == 30 and stock.errors == []
    state.clock.advance(4 * 60 + 1)
    tims.run_once()
    [shipments] = exchange.receive(FileKind.SHIPMENTS)
    [shipment] = shipments.documents
    assert isinstance(shipment, Shipment) and shipment.order_reference == "PS-000123"
    assert len(shipment.lines) == 2 and shipment.tracking_number.startswith("1Z")
    [invoices] = exchange.receive(FileKind.INVOICES)
    [invoice] = invoices.documents
    assert isinstance(invoice, Invoice) and invoice.total_fees == Decimal("11.50")
    [payments] = exchange.receive(FileKind.PAYMENTS)
    [payment] = payments.documents
    assert isinstance(payment, Payment) and payment.invoice_number == invoice.number
    # nothing new: only a fresh stock file
    written = tims.run_once()
    assert len(written) == 1 and "stock" in written[0]


@pytest.mark.django_db
def test_from_connection(tmp_path):
    connection = Connection.objects.create(
        system=System.TIMS,
        name="TIMS files",
        base_url="https://tims.example.com/api",
        credentials={"username": "u"},
        options={"files": {"storage": {"backend": "filesystem", "location": str(tmp_path)}}},
    )
    exchange = FileExchange.from_connection(connection)
    assert exchange.send_order(ORDER).created
    assert os.path.exists(tmp_path / "outbox" / "order-PS-000123.csv.done")
    with pytest.raises(DataError, match="backend"):
        FileExchange.from_connection(
            Connection(options={"files": {"storage": {"backend": "ftp"}}}, credentials={})
        )


def test_sftp_storage_is_configured_from_options():
    from connectors.tims.files import build_storage

    try:
        storage = build_storage(
            {"backend": "sftp", "host": "tims.example.com", "root_path": "/exchange"},
            {"username": "shopsync", "password": "pw-123456"},
        )
    except DataError as exc:  # paramiko is not installed here
        assert "paramiko" in exc.message
    else:
        assert storage.host == "tims.example.com" and storage.root_path == "/exchange"
        assert storage.params == {"username": "shopsync", "password": "pw-123456", "port": 22}
