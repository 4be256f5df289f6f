"""One face for the two ERPs the order flows talk to (OCA connector's "adapter").

The flows speak in shop terms (an Order, a customer e-mail, an item number); an ErpAdapter
turns that into M3 MI transactions or TIMS REST calls through the connectors, which already
classify every failure. Nothing here decides policy (skip, hold, conflict): the flows do.

    adapter = erp_adapter(integration)     # M3Adapter or TimsAdapter, clients pooled
    adapter.customer_find(email)           -> ErpCustomer | None
    adapter.order_place(payload, ...)      -> PlacedOrder (found or created, never twice)
    adapter.order_status(erp_id, ...)      -> ErpOrderStatus (state, shipments, invoices, paid)
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.canonical import Invoice, Order, OrderState, Payment, Shipment
from connectors.errors import NotFoundError, PermanentError
from connectors.infor import operations as m3_ops
from connectors.infor import payments as m3_payments
from connectors.infor import translate as m3_translate
from connectors.infor.client import M3Client
from connectors.infor.orders import BatchOrder, order_place
from connectors.models import System
from connectors.tims.client import TimsClient
from connectors.tims.records import PaymentRecord, SalesOrder
from connectors.tims.translate import parse_record
from integrations.models import Integration

# How long a positive "this item exists in the ERP" answer is trusted (items rarely vanish;
# an order with a stale yes is still checked by the ERP when it is created).
ITEM_CACHE_SECONDS = 600.0

# The ERP life cycle the status flow follows, in order; a later state implies the earlier ones.
ERP_STATES = ("processing", "shipped", "invoiced", "paid")
FINAL_STATES = frozenset({"paid", "cancelled"})


def state_rank(state: str) -> int:
    return ERP_STATES.index(state) if state in ERP_STATES else -1


@dataclass
class ErpCustomer:
    number: str
    email: str = ""
    name: str = ""
    postcode: str = ""
    city: str = ""
    country: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "number": self.number,
            "email": self.email,
            "name": self.name,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
        }


@dataclass
class PlacedOrder:
    erp_id: str
    created: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentPosting:
    """What posting a shop payment to the ERP did: `reference` names the ERP's record of it;
    `waiting` says why nothing could be posted yet (e.g. M3 has not invoiced the order)."""

    reference: str = ""
    created: bool = False
    waiting: str = ""


@dataclass
class ErpOrderStatus:
    """What the ERP says about one order now: its state and what happened so far."""

    state: str  # one of ERP_STATES or "cancelled"
    shipments: list[Shipment] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)


class ErpAdapter:
    system: str = ""
    # The order header field that carries the shop's natural key (the shop reference).
    key_field: str = ""
    # Header fields that hold the warehouse of a line and of the order.
    line_warehouse_field: str = ""
    head_warehouse_field: str = ""
    line_item_field: str = ""
    line_quantity_field: str = ""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self._items: dict[str, float] = {}
        self._items_lock = threading.Lock()

    # -- customers ---------------------------------------------------------------------

    def customer_find(self, email: str) -> ErpCustomer | None:
        raise NotImplementedError

    def customer_get(self, number: str) -> ErpCustomer:
        raise NotImplementedError

    def customer_create(self, payload: dict[str, Any], *, idempotency_key: str) -> str:
        raise NotImplementedError

    def customer_update(self, number: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- items and stock ---------------------------------------------------------------

    def item_exists(self, item: str) -> bool:
        now = time.monotonic()
        with self._items_lock:
            seen = self._items.get(item)
            if seen is not None and now - seen < ITEM_CACHE_SECONDS:
                return True
        found = self._item_lookup(item)
        if found:
            with self._items_lock:
                self._items[item] = now
        return found

    def _item_lookup(self, item: str) -> bool:
        raise NotImplementedError

    def availability(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Decimal | None]:
        """Available quantity per (item, warehouse); None where the ERP has no balance."""
        raise NotImplementedError

    # -- orders ------------------------------------------------------------------------

    def order_payload(
        self,
        order: Order,
        *,
        head: dict[str, Any],
        lines: list[dict[str, Any]],
        natural_key: str,
        backorder: bool,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def order_place(self, payload: dict[str, Any], *, idempotency_key: str) -> PlacedOrder:
        raise NotImplementedError

    def order_status(self, erp_id: str, *, link_data: dict[str, Any]) -> ErpOrderStatus:
        raise NotImplementedError

    def order_states(self, orders: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The current state of each linked order {erp id: link data} (for the scan)."""
        raise NotImplementedError

    def payment_post(
        self, *, erp_id: str, state: str, payment: Payment, link_data: dict[str, Any]
    ) -> PaymentPosting:
        """Record a shop payment against the ERP order (or its invoice), once."""
        raise NotImplementedError

    def item_prices(self, items: list[str]) -> dict[str, Decimal]:
        """The ERP's sales price of each item it has one for (anomaly checks compare)."""
        raise NotImplementedError

    def close(self) -> None:
        return None


# ---------------------------------------------------------------- Infor M3


class M3Adapter(ErpAdapter):
    system = System.INFOR_M3
    key_field = "CUOR"
    line_warehouse_field = "WHLO"
    head_warehouse_field = "WHLO"
    line_item_field = "ITNO"
    line_quantity_field = "ORQT"

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self.client = M3Client.from_connection(integration.erp_connection)

    def customer_find(self, email: str) -> ErpCustomer | None:
        row = m3_ops.customer_find_by_email(self.client, email=email)
        if row is None:
            return None
        # The search answers a few columns only; the comparison needs the address.
        return self.customer_get(str(row.get("CUNO")))

    def customer_get(self, number: str) -> ErpCustomer:
        row = m3_ops.customer_get(self.client, cuno=number)
        return ErpCustomer(
            number=str(row.get("CUNO") or number),
            email=str(row.get("MAIL") or ""),
            name=str(row.get("CUNM") or ""),
            postcode=str(row.get("PONO") or ""),
            city=str(row.get("TOWN") or ""),
            country=str(row.get("CSCD") or ""),
        )

    def customer_create(self, payload: dict[str, Any], *, idempotency_key: str) -> str:
        return m3_ops.customer_create(self.client, record=payload)

    def customer_update(self, number: str, payload: dict[str, Any]) -> None:
        changes = {k: v for k, v in payload.items() if k not in ("CUTM", "CUNO")}
        m3_ops.customer_update(self.client, cuno=number, record=changes)

    def _item_lookup(self, item: str) -> bool:
        try:
            m3_ops.item_get(self.client, itno=item, basic=True)
        except NotFoundError:
            return False
        except PermanentError as error:
            if getattr(error, "field", "") == "ITNO":
                return False
            raise
        return True

    def availability(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Decimal | None]:
        result: dict[tuple[str, str], Decimal | None] = dict.fromkeys(wanted)
        by_warehouse: dict[str, list[str]] = {}
        for item, warehouse in wanted:
            by_warehouse.setdefault(warehouse, []).append(item)
        field_name = self.client.settings.available_field
        for warehouse, items in by_warehouse.items():
            rows, _failed = m3_ops.stock_balances(
                self.client, items=sorted(set(items)), warehouses=[warehouse]
            )
            for row in rows:
                key = (str(row.get("ITNO")), str(row.get("WHLO")))
                if key in result:
                    result[key] = m3_translate.available_quantity(row, field=field_name)
        return result

    def order_payload(self, order, *, head, lines, natural_key, backorder) -> dict[str, Any]:
        settings = self.client.settings
        # Addresses and texts as the connector builds them; head and lines from the mappings.
        base = m3_translate.order_to_batch(
            order, cuno=str(head.get("CUNO") or ""), settings=settings, item_of=lambda _l: "x"
        )
        head = {**head, "CUOR": natural_key}
        clean_lines = []
        for line in lines:
            line = {k: v for k, v in line.items() if k != "ORNO"}
            line.setdefault("CUOR", natural_key)
            clean_lines.append(line)
        # M3 has no per-order backorder switch: the order type's settings decide (OIS010).
        return {
            "head": head,
            "lines": clean_lines,
            "addresses": base.addresses,
            "texts": base.texts,
        }

    def order_place(self, payload: dict[str, Any], *, idempotency_key: str) -> PlacedOrder:
        batch = BatchOrder(
            head=dict(payload["head"]),
            lines=[dict(x) for x in payload["lines"]],
            addresses=[dict(x) for x in payload.get("addresses") or []],
            texts=[dict(x) for x in payload.get("texts") or []],
        )
        placed = order_place(self.client, batch=batch)
        return PlacedOrder(
            erp_id=placed.orno,
            created=placed.created,
            details={
                "batch_order": placed.batch_orno,
                "resumed": placed.resumed,
                "steps": placed.steps,
                "customer_number": batch.cuno,
            },
        )

    def _state_of(self, head: dict[str, Any]) -> str:
        state = m3_translate.order_state(head)
        if state is None:
            return "processing"
        return {
            OrderState.CANCELLED: "cancelled",
            OrderState.INVOICED: "invoiced",
            OrderState.SHIPPED: "shipped",
        }.get(state, "processing")

    def order_status(self, erp_id: str, *, link_data: dict[str, Any]) -> ErpOrderStatus:
        client = self.client
        head = m3_ops.order_get(client, orno=erp_id)
        state = self._state_of(head)
        reference = str(link_data.get("reference") or "")
        status = ErpOrderStatus(state=state)
        if state_rank(state) >= state_rank("shipped"):
            for delivery in m3_ops.deliveries_for_order(client, orno=erp_id):
                status.shipments.append(
                    m3_translate.delivery_to_shipment(
                        delivery, order_reference=reference, erp_order_id=erp_id
                    )
                )
        if state_rank(state) >= state_rank("invoiced"):
            rows = m3_ops.invoices_for_order(client, orno=erp_id)
            status.invoices = [
                m3_translate.invoice_from_m3(r, order_reference=reference, erp_order_id=erp_id)
                for r in rows
            ]
            cuno = str(link_data.get("customer_number") or head.get("CUNO") or "")
            if rows and cuno:
                numbers = {str(r.get("IVNO")) for r in rows}
                items = [
                    i for i in m3_ops.open_items(client, cuno=cuno) if str(i.get("CINO")) in numbers
                ]
                by_number = {str(r.get("IVNO")): r for r in rows}
                for item in items:
                    payment = m3_translate.payment_from_m3(
                        item,
                        invoice=by_number[str(item.get("CINO"))],
                        order_reference=reference,
                        detected_at=datetime.now(UTC),
                    )
                    if payment is not None:
                        status.payments.append(payment)
                if items and len(status.payments) == len(items):
                    status.state = "paid"
        return status

    def order_states(self, orders: dict[str, dict[str, Any]]) -> dict[str, str]:
        states: dict[str, str] = {}
        paid_cache: dict[str, set[str]] = {}
        for erp_id, data in orders.items():
            try:
                head = m3_ops.order_get(self.client, orno=erp_id)
            except NotFoundError:
                continue
            state = self._state_of(head)
            if state == "invoiced":
                cuno = str(data.get("customer_number") or head.get("CUNO") or "")
                if cuno not in paid_cache:
                    paid_cache[cuno] = {
                        str(i.get("CINO"))
                        for i in m3_ops.open_items(self.client, cuno=cuno)
                        if m3_ops.invoice_is_paid(i)
                    }
                invoices = {
                    str(r.get("IVNO")) for r in m3_ops.invoices_for_order(self.client, orno=erp_id)
                }
                if invoices and invoices <= paid_cache[cuno]:
                    state = "paid"
            states[erp_id] = state
        return states

    def item_prices(self, items: list[str]) -> dict[str, Decimal]:
        prices = {}
        for item in items:
            row = m3_ops.item_price(self.client, itno=item) or {}
            if row.get("SAPR") not in (None, ""):
                prices[item] = Decimal(str(row["SAPR"]))
        return prices

    def payment_post(
        self, *, erp_id: str, state: str, payment: Payment, link_data: dict[str, Any]
    ) -> PaymentPosting:
        # ARS040MI settles an invoice: before M3 invoices the order there is nothing to post.
        if state_rank(state) < state_rank("invoiced"):
            return PaymentPosting(
                waiting="M3 records a payment against an invoice; not invoiced yet"
            )
        if not self.client.settings.payment_batch_type:
            return PaymentPosting(
                waiting="set the M3 connection option 'payment_batch_type' (ARS040MI BOPE) to "
                "record shop payments in M3"
            )
        invoice = m3_payments.payment_invoice(
            self.client, orno=erp_id, invoice_number=payment.invoice_number
        )
        batch = m3_translate.payment_to_m3(
            payment,
            cuno=invoice["CUNO"],
            cino=invoice["CINO"],
            inyr=invoice["INYR"],
            settings=self.client.settings,
        )
        posted = m3_payments.payment_record(self.client, batch=batch)
        return PaymentPosting(reference=f"ARS040MI {posted.pbid}", created=posted.created)

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------- TIMS (assumed interface)

TIMS_STATES = {
    "open": "processing",
    "released": "processing",
    "shipped": "shipped",
    "invoiced": "invoiced",
    "closed": "paid",
    "cancelled": "cancelled",
}


class TimsAdapter(ErpAdapter):
    system = System.TIMS
    key_field = "customer_po"
    line_warehouse_field = ""
    head_warehouse_field = "location_id"
    line_item_field = "item_code"
    line_quantity_field = "quantity"

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self.client = TimsClient.from_connection(integration.erp_connection)

    @staticmethod
    def _customer(customer: Any) -> ErpCustomer:
        address = customer.addresses[0] if customer.addresses else None
        return ErpCustomer(
            number=str(customer.id or ""),
            email=str(customer.email or ""),
            name=customer.company
            or " ".join(p for p in (customer.first_name, customer.last_name) if p),
            postcode=address.postcode if address else "",
            city=address.city if address else "",
            country=address.country if address else "",
        )

    def customer_find(self, email: str) -> ErpCustomer | None:
        wanted = email.strip().lower()
        found = [c for c in self.client.find_customers_by_email(wanted) if c.email == wanted]
        if len(found) > 1:
            numbers = ", ".join(str(c.id) for c in found)
            raise PermanentError(
                f"several TIMS customers have e-mail {wanted!r} ({numbers}): merge them or "
                "link the shop customer to one by hand",
                field="email",
                value=wanted,
            )
        return self._customer(found[0]) if found else None

    def customer_get(self, number: str) -> ErpCustomer:
        return self._customer(self.client.get_customer(number))

    def customer_create(self, payload: dict[str, Any], *, idempotency_key: str) -> str:
        created = self.client.create_customer(payload, idempotency_key=idempotency_key)
        return str(created.id)

    def customer_update(self, number: str, payload: dict[str, Any]) -> None:
        changes = {k: v for k, v in payload.items() if k != "customer_code"}
        self.client.update_customer(number, changes)

    def _item_lookup(self, item: str) -> bool:
        try:
            self.client.get_item(item)
        except NotFoundError:
            return False
        return True

    def availability(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Decimal | None]:
        # The (assumed) API lists inventory by location only, so one listing per location in
        # the order, indexed here; "" means every location, summed.
        result: dict[tuple[str, str], Decimal | None] = dict.fromkeys(wanted)
        for location in sorted({w for _i, w in wanted}):
            items = {i for i, w in wanted if w == location}
            totals: dict[str, Decimal] = {}
            for level in self.client.list_inventory(location_id=location or None):
                if level.sku in items:
                    totals[level.sku] = totals.get(level.sku, Decimal(0)) + level.quantity
            for item in items:
                result[(item, location)] = totals.get(item)
        return result

    def order_payload(self, order, *, head, lines, natural_key, backorder) -> dict[str, Any]:
        payload = {**head, "customer_po": natural_key, "lines": lines}
        if backorder:
            payload["override_backorder"] = True
        # Validated here (types, lengths) so a bad value names its field before any call.
        return parse_record(SalesOrder, payload, what="TIMS sales order").wire()

    def order_place(self, payload: dict[str, Any], *, idempotency_key: str) -> PlacedOrder:
        created = self.client.create_sales_order(payload, idempotency_key=idempotency_key)
        order = created.document
        return PlacedOrder(
            erp_id=str(order.order_number),
            created=created.created,
            details={"customer_number": order.customer_code},
        )

    def order_status(self, erp_id: str, *, link_data: dict[str, Any]) -> ErpOrderStatus:
        order = self.client.get_sales_order(erp_id)
        state = TIMS_STATES.get(str(order.status or "open"), "processing")
        status = ErpOrderStatus(state=state)
        po = order.customer_po
        if state_rank(state) >= state_rank("shipped"):
            status.shipments = [s for s in self.client.list_shipments() if s.erp_order_id == erp_id]
        if state_rank(state) >= state_rank("invoiced"):
            status.invoices = [i for i in self.client.list_invoices() if i.erp_order_id == erp_id]
        if state == "paid":
            status.payments = [p for p in self.client.list_payments() if p.order_reference == po]
        return status

    def item_prices(self, items: list[str]) -> dict[str, Decimal]:
        prices = {}
        for item in items:
            product = self.client.get_item(item)
            if product.price is not None:
                prices[item] = product.price
        return prices

    def payment_post(
        self, *, erp_id: str, state: str, payment: Payment, link_data: dict[str, Any]
    ) -> PaymentPosting:
        # A shop payment is a prepayment on the sales order (its customer PO), whatever its state.
        order = self.client.get_sales_order(erp_id)
        reference = payment.transaction_id or f"shop-payment-{payment.id}"
        record = PaymentRecord(
            customer_code=order.customer_code,
            customer_po=order.customer_po,
            date=payment.paid_at,
            amount=payment.amount,
            currency=payment.currency,
            method=payment.method[:20],
            reference=reference[:60],
        )
        created = self.client.record_payment(record, idempotency_key=f"shop-payment:{payment.id}")
        return PaymentPosting(reference=f"TIMS payment {reference}", created=created.created)

    def order_states(self, orders: dict[str, dict[str, Any]]) -> dict[str, str]:
        states = {}
        for erp_id in orders:
            try:
                order = self.client.get_sales_order(erp_id)
            except NotFoundError:
                continue
            states[erp_id] = TIMS_STATES.get(str(order.status or "open"), "processing")
        return states

    def close(self) -> None:
        self.client.close()


ADAPTERS: dict[str, type[ErpAdapter]] = {System.INFOR_M3: M3Adapter, System.TIMS: TimsAdapter}


def erp_adapter(integration: Integration) -> ErpAdapter:
    system = integration.erp_connection.system
    try:
        return ADAPTERS[system](integration)
    except KeyError:
        raise PermanentError(
            f"integration {integration.slug!r}: no order adapter for ERP system {system!r}",
            field="erp_connection.system",
            value=system,
        ) from None
