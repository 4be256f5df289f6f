"""Canonical documents ⇄ M3 records, where the reference supports the mapping.

order → OIS100MI batch head/lines/addresses/texts; MMS200MI balances → StockLevel;
MWS410MI/MWS411MI deliveries → Shipment; OIS350MI invoices → Invoice; CRS610MI ⇄ Customer;
MMS200MI item (+ price) → Product. Values stay Python types here (Decimal, date); the client
renders them as M3 text and checks them against the catalog.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.canonical import (
    Address,
    Customer,
    Invoice,
    Order,
    OrderLine,
    OrderState,
    Payment,
    Product,
    Shipment,
    StockLevel,
    parse_document,
)
from connectors.errors import DataError
from connectors.infor.catalog import DICTIONARY
from connectors.infor.orders import BatchOrder
from connectors.infor.payments import LINE_NUMBER, PaymentBatch, payment_batch_id
from connectors.infor.settings import M3Settings

TEXT_LINE = DICTIONARY["PARM"][1]


def _name(address: Address) -> str:
    return " ".join(p for p in (address.first_name, address.last_name) if p) or address.company


def _address_record(address: Address, *, address_type: str) -> dict[str, Any]:
    return {
        "ADRT": address_type,
        "CUNM": _name(address),
        "CUA1": address.line1,
        "CUA2": address.line2 or None,
        "CUA3": address.line3 or None,
        "CUA4": address.company if address.company and _name(address) != address.company else None,
        "PONO": address.postcode or None,
        "TOWN": address.city,
        "CSCD": address.country,
        "ECAR": address.region or None,
        "PHNO": address.phone or address.mobile or None,
        "VRNO": address.vat_number or None,
    }


def order_to_batch(
    order: Order,
    *,
    cuno: str,
    settings: M3Settings,
    item_of: Callable[[OrderLine], str] | None = None,
    with_charges: bool = False,
) -> BatchOrder:
    """The batch order of a canonical order. CUOR = the shop reference (natural key).

    `with_charges` adds the order's charges (order_charges_to_m3); off by default, so the
    batch order is what it always was unless a flow asks for charges.
    """
    item_of = item_of or (lambda line: line.sku)
    head = {
        "CUNO": cuno,
        "CUOR": order.reference,
        "ORTP": settings.order_type or None,
        "FACI": settings.facility or None,
        "WHLO": settings.warehouse or None,
        "ORDT": order.placed_at.date(),
        "CUCD": order.currency,
    }
    lines = []
    for line in order.lines:
        itno = item_of(line)
        if not itno:
            raise DataError(
                f"order {order.reference} line {line.line_number}: no M3 item number (sku is "
                "empty); map the product under Value maps > Items",
                field=f"lines.{line.line_number}.sku",
                value=line.sku,
            )
        lines.append(
            {
                "ITNO": itno,
                "ORQT": line.quantity,
                "SAPR": line.unit_price,
                "WHLO": settings.warehouse or None,
                "CUPO": line.line_number,
            }
        )
    addresses = [
        _address_record(order.shipping_address, address_type=settings.delivery_address_type)
    ]
    if settings.invoice_address_type:
        addresses.append(
            _address_record(order.billing_address, address_type=settings.invoice_address_type)
        )
    texts = []
    note = " ".join(order.note.split())
    for start in range(0, len(note), TEXT_LINE):
        texts.append({"TYPE": 1, "TYTR": 1, "PARM": note[start : start + TEXT_LINE]})
    charges = order_charges_to_m3(order, settings=settings) if with_charges else []
    return BatchOrder(head=head, lines=lines, addresses=addresses, texts=texts, charges=charges)


def order_charges_to_m3(order: Order, *, settings: M3Settings) -> list[dict[str, Any]]:
    """The order's charges as batch order charge records (shipping, tax excluded).

    Only shipping is known to the canonical order; it is sent under the charge code of the
    option `shipping_charge` when that is set and the amount is not zero. Field names are the
    options `charge_id_field` / `charge_amount_field` ([D] CRID / CRAM).
    """
    charges: list[dict[str, Any]] = []
    if settings.shipping_charge and order.total_shipping:
        charges.append(
            {
                settings.charge_id_field: settings.shipping_charge,
                settings.charge_amount_field: order.total_shipping,
                "CUCD": order.currency,
            }
        )
    return charges


def payment_to_m3(
    payment: Payment, *, cuno: str, cino: str, inyr: str | int, settings: M3Settings
) -> PaymentBatch:
    """An ARS040MI payment batch of one shop payment against one M3 invoice.

    PBID comes from the payment's id (payments.payment_batch_id), so a re-send of the same
    payment meets the batch it already made. BOPE is the option `payment_batch_type`.
    """
    if not settings.payment_batch_type:
        raise DataError(
            "no payment batch type: set the M3 connection option 'payment_batch_type' (BOPE "
            "of ARS040MI/AddBatchHead, see the tenant's ARS040 settings)",
            field="payment_batch_type",
        )
    if payment.amount <= 0:
        raise DataError(
            f"payment {payment.id}: amount {payment.amount} must be positive to be posted "
            "in M3 (refunds are not recorded through ARS040MI)",
            field="amount",
            value=str(payment.amount),
        )
    pbid = payment_batch_id(payment.id, prefix=settings.payment_batch_prefix)
    head = {"PBID": pbid, "BOPE": settings.payment_batch_type, "DIVI": settings.divi or None}
    line = {
        "PBID": pbid,
        "TRNO": LINE_NUMBER,
        "CINO": cino,
        "INYR": inyr,
        "CUNO": cuno,
        "PYAM": payment.amount,
        "CUCD": payment.currency,
        "LPDT": payment.paid_at.date(),
        "DIVI": settings.divi or None,
    }
    return PaymentBatch(head=head, line=line)


def customer_to_m3(customer: Customer, *, address: Address | None = None) -> dict[str, Any]:
    """CRS610MI/Add (or ChgBasicData) fields of a customer."""
    address = address or (customer.addresses[0] if customer.addresses else None)
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    record: dict[str, Any] = {
        "CUNM": customer.company or name or customer.email,
        "MAIL": customer.email,
        "PHNO": customer.phone or None,
        "LNCD": customer.language.upper()[:2] or None,
    }
    if address is not None:
        record.update(
            CUA1=address.line1,
            CUA2=address.line2 or None,
            CUA3=address.line3 or None,
            PONO=address.postcode or None,
            TOWN=address.city,
            CSCD=address.country,
            ECAR=address.region or None,
            PHNO=record["PHNO"] or address.phone or None,
        )
    return record


def customer_from_m3(row: dict[str, Any]) -> Customer:
    data: dict[str, Any] = {
        "id": row.get("CUNO"),
        "email": row.get("MAIL") or "",
        "company": row.get("CUNM") or "",
        "phone": row.get("PHNO") or "",
        "language": (row.get("LNCD") or "").lower(),
        "raw": _raw(row),
    }
    if row.get("CUA1") and row.get("TOWN") and row.get("CSCD"):
        data["addresses"] = [
            {
                "company": row.get("CUNM") or "",
                "line1": row.get("CUA1"),
                "line2": row.get("CUA2") or "",
                "line3": row.get("CUA3") or "",
                "postcode": row.get("PONO") or "",
                "city": row.get("TOWN"),
                "country": row.get("CSCD"),
                "phone": row.get("PHNO") or "",
            }
        ]
    return parse_document(Customer, data)


def item_to_product(row: dict[str, Any], *, price: dict[str, Any] | None = None) -> Product:
    return parse_document(
        Product,
        {
            "id": row.get("ITNO"),
            "sku": row.get("ITNO"),
            "name": row.get("ITDS") or row.get("ITNO"),
            "description": row.get("FUDS") or "",
            "price": (price or {}).get("SAPR"),
            "active": str(row.get("STAT") or "20") in ("20", "50"),
            "unit": row.get("UNMS") or "",
            "weight": row.get("NEWE"),
            "updated_at": _at(row.get("LMDT")),
            "raw": _raw({**row, **(price or {})}),
        },
    )


def available_quantity(row: dict[str, Any], *, field: str) -> Decimal:
    """The figure the shop may sell: one field (AV01, AVAL, AV02…) or "STQT-ALQT"."""
    total = Decimal("0")
    sign = 1
    for term in field.replace("+", " + ").replace("-", " - ").split():
        if term in ("+", "-"):
            sign = -1 if term == "-" else 1
            continue
        value = row.get(term)
        if value is None or value == "":
            raise DataError(
                f"M3 balance of item {row.get('ITNO')} warehouse {row.get('WHLO')} has no "
                f"{term} (option available_field = {field!r})",
                field=term,
            )
        try:
            total += sign * Decimal(str(value))
        except InvalidOperation:
            raise DataError(
                f"M3 balance of item {row.get('ITNO')} warehouse {row.get('WHLO')}: {term} is "
                f"not a number",
                field=term,
                value=value,
            ) from None
    return total


def balance_to_stock(row: dict[str, Any], *, available_field: str, as_of: datetime) -> StockLevel:
    return parse_document(
        StockLevel,
        {
            "sku": row.get("ITNO"),
            "warehouse": row.get("WHLO") or "",
            "quantity": max(Decimal("0"), available_quantity(row, field=available_field)),
            "on_hand": row.get("STQT"),
            "allocated": row.get("ALQT"),
            "as_of": as_of,
            "raw": _raw(row),
        },
    )


def balances_to_stock(
    rows: list[dict[str, Any]], *, available_field: str, as_of: datetime | None = None
) -> list[StockLevel]:
    as_of = as_of or datetime.now(UTC)
    return [balance_to_stock(r, available_field=available_field, as_of=as_of) for r in rows]


def delivery_to_shipment(
    delivery: dict[str, Any], *, order_reference: str, erp_order_id: str
) -> Shipment:
    """One M3 delivery (operations.deliveries_for_order item) as a Shipment."""
    head = delivery.get("head") or {}
    lines = [
        {"sku": line.get("ITNO"), "quantity": line.get("TRQT") or line.get("PLQT")}
        for line in delivery.get("lines") or []
        if isinstance(line, dict) and line.get("ITNO") and (line.get("TRQT") or line.get("PLQT"))
    ]
    return parse_document(
        Shipment,
        {
            "id": str(head.get("DLIX") or (delivery.get("lines") or [{}])[0].get("DLIX") or ""),
            "order_reference": order_reference,
            "erp_order_id": erp_order_id,
            "carrier": head.get("MODL") or "",
            "tracking_number": delivery.get("tracking_number") or "",
            "shipped_at": _at(head.get("TRDT")) or datetime.now(UTC),
            # Validated with the document, so a bad line is a DataError naming lines.N.field.
            "lines": lines,
            "raw": _raw({"head": head, "lines": delivery.get("lines") or []}),
        },
    )


def invoice_from_m3(row: dict[str, Any], *, order_reference: str, erp_order_id: str) -> Invoice:
    """OIS350MI/LstInvHeadByCo row: AMT1 gross, AMT2 net (§4.5)."""
    gross = row.get("AMT1")
    net = row.get("AMT2") if row.get("AMT2") is not None else gross
    tax = (Decimal(str(gross)) - Decimal(str(net))) if gross is not None and net is not None else 0
    number = str(row.get("EXIN") or row.get("IVNO") or "")
    return parse_document(
        Invoice,
        {
            "number": number,
            "order_reference": order_reference,
            "erp_order_id": erp_order_id,
            "issued_at": _at(row.get("IVDT")),
            "due_date": row.get("DUDT"),
            "currency": row.get("CUCD"),
            "total_tax_excl": net,
            "total_tax": tax,
            "total": gross,
            "raw": _raw(row),
        },
    )


def payment_from_m3(
    open_item: dict[str, Any],
    *,
    invoice: dict[str, Any],
    order_reference: str,
    detected_at: datetime,
) -> Payment | None:
    """A Payment once ARS200MI shows the invoice settled (RECO 9), else None.

    LstInvoices gives no payment date among the fields the reference lists, so `paid_at` is
    when the connector saw it paid [U]; the amount is the invoice's gross (AMT1).
    """
    if str(open_item.get("RECO") or "").split(".")[0] != "9":
        return None
    number = str(invoice.get("EXIN") or invoice.get("IVNO") or open_item.get("CINO") or "")
    return parse_document(
        Payment,
        {
            "id": f"{open_item.get('INYR') or ''}-{open_item.get('CINO') or number}",
            "order_reference": order_reference,
            "invoice_number": number,
            "amount": invoice.get("AMT1"),
            "currency": invoice.get("CUCD"),
            "paid_at": detected_at,
            "raw": _raw({"open_item": open_item, "invoice": invoice}),
        },
    )


def order_state(head: dict[str, Any]) -> OrderState | None:
    """Canonical state of an M3 order from its lowest/highest line status (ORSL/ORST, §4.1)."""
    low, high = str(head.get("ORSL") or ""), str(head.get("ORST") or "")
    if not low:
        return None
    # 9 = deleted; 99 = completed without delivery: either way nothing will ship (§4.1)
    if low == "99" or (low.startswith("9") and high.startswith("9")):
        return OrderState.CANCELLED
    if low[0] >= "7":
        return OrderState.INVOICED
    if low[0] >= "6":
        return OrderState.SHIPPED
    return OrderState.PROCESSING


def _at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    return None


def _raw(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of a record for `raw`."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, Decimal | date):
            return str(value)
        return value

    return clean(row)
