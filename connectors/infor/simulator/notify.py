"""ION-style BOD notifications from the simulated M3, signed per Standard Webhooks. Off by
default: nothing is sent unless the simulator is given a URL.

When an order's status changes the simulator posts a Sync.SalesOrder (every change), a
Sync.Shipment (when the delivery is reported, line status 66) and a Sync.Invoice (when it is
invoiced, 77). The envelope follows the reference's skeleton (samples/SyncSalesOrder.derived.xml,
[D]: no M3 BOD was captured), so connectors.infor.bod.parse_sync_sales_order reads what is
sent; the Shipment and Invoice nouns use OAGIS names and are [D] too.

Delivery is what ION would do through a webhook-style endpoint, not ION's own IMS protocol
(reference §5): one POST per BOD, Content-Type application/xml, headers webhook-id,
webhook-timestamp and webhook-signature (HMAC-SHA256 with the `standardwebhooks` package).
Sends happen on a worker thread, so a slow receiver never holds the simulator's lock.
"""

import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import requests
from standardwebhooks.webhooks import Webhook

from connectors.infor.simulator.state import CustomerOrder, M3State

NS = "http://schema.infor.com/InforOAGIS/2"
LOGICAL_ID = "lid://infor.m3.m3"
# Seconds a delivery may take before it is recorded as failed (the simulator does not retry).
SEND_TIMEOUT = 5.0
# Line status -> OAGIS sales order status code (the skeleton's "Open"; the rest [D]).
ORDER_STATUS = {
    "2": "Open",
    "3": "Open",
    "4": "Open",
    "6": "Shipped",
    "7": "Invoiced",
    "9": "Closed",
}


@dataclass
class Delivery:
    bod_id: str
    noun: str
    orno: str
    status: str
    body: str
    response_status: int | None = None
    error: str = ""


@dataclass
class BodNotifier:
    """Listens to M3State status changes and posts BODs to `url`."""

    state: M3State
    url: str
    secret: str
    tenant: str = "SIM_TST"
    session: requests.Session = field(default_factory=requests.Session)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sent: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._signer = Webhook(self.secret)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="m3-sim-bods", daemon=True)
        self._thread.start()
        self.state.listeners.append(self.on_event)

    # -- events ------------------------------------------------------------------------------

    def on_event(self, event: str, order: CustomerOrder) -> None:
        if event not in ("released", "status"):
            return
        try:
            self._on_status(order, released=event == "released")
        except Exception as exc:  # noqa: BLE001 (a notification must never break M3 itself)
            self.sent.append(Delivery("", "error", order.orno, order.status, "", error=str(exc)))

    def _on_status(self, order: CustomerOrder, *, released: bool) -> None:
        event = "released" if released else "status"
        self._enqueue("SalesOrder", order, sync_sales_order(self.state, order, tenant=self.tenant))
        if event == "status" and order.status == "66" and order.dlix:
            self._enqueue("Shipment", order, sync_shipment(self.state, order, tenant=self.tenant))
        if event == "status" and order.status == "77" and order.ivno:
            self._enqueue("Invoice", order, sync_invoice(self.state, order, tenant=self.tenant))

    def _enqueue(self, noun: str, order: CustomerOrder, body: str) -> None:
        bod_id = _bod_id(body)
        self._queue.put(Delivery(bod_id, noun, order.orno, order.status, body))

    # -- sending -----------------------------------------------------------------------------

    def signed_headers(self, delivery: Delivery) -> dict[str, str]:
        moment = self.now()
        signature = self._signer.sign(msg_id=delivery.bod_id, timestamp=moment, data=delivery.body)
        return {
            "Content-Type": "application/xml",
            "webhook-id": delivery.bod_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature,
        }

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                self._queue.task_done()
                return
            try:
                response = self.session.post(
                    self.url,
                    data=delivery.body.encode("utf-8"),
                    headers=self.signed_headers(delivery),
                    timeout=SEND_TIMEOUT,
                )
                delivery.response_status = response.status_code
            except requests.RequestException as exc:
                delivery.error = str(exc)
            self.sent.append(delivery)
            self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued BOD has been sent (for tests)."""
        self._queue.join()

    def close(self) -> None:
        if self.on_event in self.state.listeners:
            self.state.listeners.remove(self.on_event)
        self._queue.put(None)
        self._thread.join(timeout=SEND_TIMEOUT + 1)


# -- BODs ----------------------------------------------------------------------------------


def _q(tag: str) -> str:
    # Tags stay unqualified and the root carries xmlns: ElementTree cannot write a default
    # namespace next to unqualified attributes (releaseID, currencyID…).
    return tag


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, _q(tag), attrs)
    if text is not None:
        child.text = text
    return child


def _envelope(verb_noun: str, state: M3State, *, tenant: str) -> tuple[ET.Element, ET.Element]:
    root = ET.Element(verb_noun, {"xmlns": NS, "releaseID": "9.2", "versionID": "2.8.0"})
    area = _sub(root, "ApplicationArea")
    sender = _sub(area, "Sender")
    _sub(sender, "LogicalID", LOGICAL_ID)
    _sub(sender, "ComponentID", "M3BE")
    _sub(sender, "ConfirmationCode", "OnError")
    _sub(area, "CreationDateTime", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    _sub(area, "BODID", str(uuid.uuid4()))
    data = _sub(root, "DataArea")
    sync = _sub(data, "Sync")
    _sub(sync, "TenantID", tenant)
    _sub(sync, "AccountingEntityID", f"{state.cono}_{state.divi}")
    _sub(sync, "LocationID", state.facility)
    criteria = _sub(sync, "ActionCriteria")
    _sub(criteria, "ActionExpression", actionCode="Replace")
    return root, data


def _text(root: ET.Element) -> str:
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _bod_id(body: str) -> str:
    start = body.index("<BODID>") + len("<BODID>")
    return body[start : body.index("</BODID>", start)]


def sync_sales_order(state: M3State, order: CustomerOrder, *, tenant: str) -> str:
    """A Sync.SalesOrder of the order as it stands: head status, lines with line status."""
    root, data = _envelope("SyncSalesOrder", state, tenant=tenant)
    entity = f"{state.cono}_{state.divi}"
    sales = _sub(data, "SalesOrder")
    head = _sub(sales, "SalesOrderHeader")
    _sub(_sub(head, "DocumentID"), "ID", order.orno, accountingEntity=entity, variationID="1")
    cuor = _sub(_sub(head, "CustomerPurchaseOrderReference"), "DocumentID")
    _sub(cuor, "ID", order.head.get("CUOR", ""))
    ordt = order.head.get("ORDT", "")
    if len(ordt) == 8:
        _sub(head, "DocumentDateTime", f"{ordt[:4]}-{ordt[4:6]}-{ordt[6:]}T00:00:00Z")
    status = _sub(head, "Status")
    _sub(status, "Code", ORDER_STATUS.get(order.status[:1], "Open"), listID="SalesOrderStatus")
    party = _sub(_sub(head, "CustomerParty"), "PartyIDs")
    _sub(party, "ID", order.head.get("CUNO", ""), accountingEntity=entity)
    currency = order.head.get("CUCD", "EUR")
    _sub(head, "TotalAmount", order.head.get("TOPY", "0"), currencyID=currency)
    for line in order.lines:
        row = _sub(sales, "SalesOrderLine")
        _sub(row, "LineNumber", line["PONR"])
        _sub(_sub(_sub(row, "Item"), "ItemID"), "ID", line["ITNO"], accountingEntity=entity)
        _sub(row, "Quantity", format(line["ORQT"].normalize(), "f"), unitCode="EA")
        price = _sub(row, "UnitPrice")
        _sub(price, "Amount", format(line["SAPR"], "f"), currencyID=currency)
        _sub(_sub(row, "Status"), "Code", order.status, listID="SalesOrderLineStatus")
    return _text(root)


def sync_shipment(state: M3State, order: CustomerOrder, *, tenant: str) -> str:
    """A Sync.Shipment of the order's delivery [D]: DLIX, order reference, tracking number."""
    root, data = _envelope("SyncShipment", state, tenant=tenant)
    delivery: dict[str, Any] = state.deliveries.get(order.dlix, {})
    shipment = _sub(data, "Shipment")
    head = _sub(shipment, "ShipmentHeader")
    _sub(_sub(head, "DocumentID"), "ID", order.dlix)
    ref = _sub(_sub(head, "SalesOrderReference"), "DocumentID")
    _sub(ref, "ID", order.orno)
    _sub(
        _sub(_sub(head, "CustomerPurchaseOrderReference"), "DocumentID"),
        "ID",
        order.head.get("CUOR", ""),
    )
    _sub(head, "TrackingID", str(delivery.get("ETRN") or order.tracking))
    _sub(head, "CarrierRouteID", str(delivery.get("MODL") or ""))
    for line in order.lines:
        item = _sub(shipment, "ShipmentItem")
        _sub(_sub(item, "ItemID"), "ID", line["ITNO"])
        _sub(item, "ShippedQuantity", format(line["ORQT"].normalize(), "f"), unitCode="EA")
    return _text(root)


def sync_invoice(state: M3State, order: CustomerOrder, *, tenant: str) -> str:
    """A Sync.Invoice of the order's invoice [D]: number, order reference, amounts."""
    root, data = _envelope("SyncInvoice", state, tenant=tenant)
    invoice = state.invoices.get(order.ivno, {})
    head = _sub(_sub(data, "Invoice"), "InvoiceHeader")
    _sub(_sub(head, "DocumentID"), "ID", order.ivno)
    _sub(_sub(_sub(head, "SalesOrderReference"), "DocumentID"), "ID", order.orno)
    currency = invoice.get("CUCD", "EUR")
    _sub(head, "TotalAmount", invoice.get("AMT1", "0"), currencyID=currency)
    _sub(head, "ExtendedAmount", invoice.get("AMT2", "0"), currencyID=currency)
    return _text(root)
