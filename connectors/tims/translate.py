"""TIMS records (our names) -> canonical documents, the same for the REST and file transports.

Every canonical document keeps the record as it came (after aliasing) under `raw`, so a
mapping can reach a custom field. Naive datetimes and bare dates are taken as UTC: the
assumed profile says timestamps carry an offset, and files rarely do.
"""

from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from pydantic import BaseModel

from connectors.canonical import (
    Address,
    Customer,
    Invoice,
    Payment,
    Product,
    Shipment,
    ShipmentLine,
    StockLevel,
    parse_document,
    validate_model,
)
from connectors.tims.records import (
    CustomerRecord,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
    ShipmentRecord,
    ShipTo,
    StockRecord,
)

R = TypeVar("R", bound=BaseModel)


def parse_record(record_type: type[R], data: Any, *, what: str = "") -> R:
    """Validate a TIMS record; DataError names the first bad field (our name) and its value."""
    return validate_model(record_type, data, what=what)


def aware(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0), tzinfo=UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def address_from_ship_to(ship_to: ShipTo) -> Address:
    return parse_document(
        Address,
        {
            "id": ship_to.ship_to_code,
            "company": ship_to.name,
            "line1": ship_to.line1,
            "line2": ship_to.line2,
            "city": ship_to.city,
            "region": ship_to.region,
            "postcode": ship_to.postal_code,
            "country": ship_to.country.upper(),
            "phone": ship_to.phone,
            "raw": ship_to.wire(),
        },
    )


def customer_from_record(record: CustomerRecord) -> Customer:
    addresses = [address_from_ship_to(s) for s in ([record.bill_to] if record.bill_to else [])]
    addresses += [address_from_ship_to(s) for s in record.ship_tos]
    return parse_document(
        Customer,
        {
            "id": record.customer_code,
            "email": record.email,
            "company": record.name,
            "phone": record.phone,
            "addresses": addresses,
            "updated_at": aware(record.modified_at),
            "raw": record.wire(),
        },
    )


def product_from_item(record: ItemRecord) -> Product:
    return parse_document(
        Product,
        {
            "id": record.item_code,
            "sku": record.item_code,
            "name": record.description,
            "price": record.list_price,
            "active": record.active,
            "unit": record.uom,
            "weight": record.weight,
            "updated_at": aware(record.modified_at),
            "raw": record.wire(),
        },
    )


def stock_from_record(record: StockRecord) -> StockLevel:
    return parse_document(
        StockLevel,
        {
            "sku": record.item_code,
            "warehouse": record.location_id,
            "quantity": record.available,
            "on_hand": record.on_hand,
            "allocated": record.allocated,
            "as_of": aware(record.as_of),
            "raw": record.wire(),
        },
    )


def shipment_from_record(record: ShipmentRecord) -> Shipment:
    return parse_document(
        Shipment,
        {
            "id": record.shipment_id,
            # The shop reference travels as customer_po; without it, the ERP order number.
            "order_reference": record.customer_po or record.order_number,
            "erp_order_id": record.order_number,
            "carrier": record.carrier,
            "tracking_number": record.tracking_number,
            "shipped_at": aware(record.ship_date),
            "lines": [
                ShipmentLine(sku=line.item_code, quantity=line.quantity_shipped)
                for line in record.lines
            ],
            "raw": record.wire(),
        },
    )


def invoice_from_record(record: InvoiceRecord) -> Invoice:
    return parse_document(
        Invoice,
        {
            "number": record.invoice_number,
            "order_reference": record.customer_po,
            "erp_order_id": record.order_number,
            "issued_at": aware(record.invoice_date),
            "due_date": record.due_date,
            "currency": record.currency,
            # Fees are charges, not tax: tax excluded = total - tax, fees shown on their own.
            "total_tax_excl": record.total - record.tax_total,
            "total_tax": record.tax_total,
            "total_fees": record.fees_total,
            "total": record.total,
            "raw": record.wire(),
        },
    )


def payment_from_record(record: PaymentRecord) -> Payment:
    return parse_document(
        Payment,
        {
            "id": record.payment_id or record.reference,
            "order_reference": record.customer_po,
            "invoice_number": record.applied[0].invoice_number if record.applied else "",
            "amount": record.amount,
            "currency": record.currency,
            "method": record.method,
            "transaction_id": record.reference,
            "paid_at": aware(record.date),
            "raw": record.wire(),
        },
    )
