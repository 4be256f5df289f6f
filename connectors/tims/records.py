"""TIMS records in our field names: what the REST and file transports read and write.

ASSUMED INTERFACE: the field set is our design (reference note §4), not TIMS's published
schema; the profile's alias map translates names to a real installation's. Fields marked ✱
in the note come from public facts about TIMS: customer_code, location_id, will_call,
blanket_po, override_backorder and fees kept apart from tax.

A SalesOrder is the write payload a mapping produces from a canonical Order (checked against
catalog.py); reads are translated to canonical documents by translate.py.
"""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=20, decimal_places=6)]
Quantity = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=20, decimal_places=6)]


def _no_float(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


class Record(BaseModel):
    # Unknown (custom) fields are kept: they reach `raw` and so the mappings.
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """JSON-ready dict in our names: Decimals as strings, dates ISO 8601, no None."""
        return self.model_dump(mode="json", exclude_none=True)


class OrderStatus(StrEnum):
    OPEN = "open"
    RELEASED = "released"
    SHIPPED = "shipped"
    INVOICED = "invoiced"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ShipTo(Record):
    ship_to_code: str | None = Field(default=None, max_length=20)
    name: str = Field(default="", max_length=60)
    line1: str = Field(min_length=1, max_length=60)
    line2: str = Field(default="", max_length=60)
    city: str = Field(min_length=1, max_length=40)
    region: str = Field(default="", max_length=20)
    postal_code: str = Field(default="", max_length=15)
    country: str = Field(min_length=2, max_length=2)
    phone: str = Field(default="", max_length=30)


class CustomerRecord(Record):
    customer_code: str | None = Field(default=None, max_length=20)
    name: str = Field(min_length=1, max_length=60)
    email: str = Field(min_length=3, max_length=120)
    phone: str = Field(default="", max_length=30)
    tax_exempt: bool = False
    terms_code: str = Field(default="", max_length=10)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    price_level: str = Field(default="", max_length=10)
    credit_hold: bool = False
    bill_to: ShipTo | None = None
    ship_tos: list[ShipTo] = Field(default_factory=list)
    external_ref: str = Field(default="", max_length=40)
    modified_at: datetime | None = None


class ItemRecord(Record):
    item_code: str = Field(min_length=1, max_length=30)
    description: str = Field(min_length=1, max_length=120)
    uom: str = Field(default="EA", max_length=6)
    list_price: Money | None = None
    taxable: bool = True
    weight: Decimal | None = None
    active: bool = True
    stocked: bool = True
    hazmat: bool = False
    modified_at: datetime | None = None

    _floats = field_validator("list_price", "weight", mode="before")(_no_float)


class StockRecord(Record):
    item_code: str = Field(min_length=1, max_length=30)
    location_id: str = Field(min_length=1, max_length=10)
    on_hand: Quantity
    allocated: Quantity = Decimal("0")
    available: Quantity
    as_of: datetime

    _floats = field_validator("on_hand", "allocated", "available", mode="before")(_no_float)


class Fee(Record):
    """A charge TIMS adds (cylinder rental, hazmat, delivery): never part of tax."""

    code: str = Field(min_length=1, max_length=10)
    description: str = Field(default="", max_length=60)
    amount: Money

    _floats = field_validator("amount", mode="before")(_no_float)


class SalesOrderLine(Record):
    line_no: int = Field(ge=1)
    item_code: str = Field(min_length=1, max_length=30)
    quantity: Quantity = Field(gt=0)
    uom: str = Field(default="", max_length=6)
    unit_price: Money | None = None
    discount: Money = Decimal("0")
    tax_code: str = Field(default="", max_length=10)
    description: str = Field(default="", max_length=120)

    _floats = field_validator("quantity", "unit_price", "discount", mode="before")(_no_float)


class SalesOrder(Record):
    order_number: str | None = Field(default=None, max_length=20)
    customer_code: str = Field(min_length=1, max_length=20)
    customer_po: str = Field(min_length=1, max_length=30, description="the shop reference")
    order_date: datetime | None = None
    location_id: str | None = Field(default=None, max_length=10)
    ship_to_code: str | None = Field(default=None, max_length=20)
    ship_to: ShipTo | None = None
    ship_via: str = Field(default="", max_length=20)
    will_call: bool = False
    blanket_po: str = Field(default="", max_length=30)
    override_backorder: bool = False
    currency: str = Field(default="USD", min_length=3, max_length=3)
    freight: Money = Decimal("0")
    tax_total: Money | None = None
    fees: list[Fee] = Field(default_factory=list)
    notes: str = Field(default="", max_length=500)
    status: OrderStatus | None = None
    lines: list[SalesOrderLine] = Field(min_length=1)
    modified_at: datetime | None = None

    _floats = field_validator("freight", "tax_total", mode="before")(_no_float)


class ShipmentLine(Record):
    line_no: int | None = None
    item_code: str = Field(min_length=1, max_length=30)
    quantity_shipped: Quantity = Field(gt=0)

    _floats = field_validator("quantity_shipped", mode="before")(_no_float)


class ShipmentRecord(Record):
    shipment_id: str = Field(min_length=1, max_length=20)
    order_number: str = Field(min_length=1, max_length=20)
    customer_po: str = Field(default="", max_length=30)
    ship_date: datetime | date
    carrier: str = Field(default="", max_length=30)
    tracking_number: str = Field(default="", max_length=60)
    lines: list[ShipmentLine] = Field(default_factory=list)


class InvoiceRecord(Record):
    invoice_number: str = Field(min_length=1, max_length=20)
    order_number: str = Field(default="", max_length=20)
    customer_po: str = Field(default="", max_length=30)
    customer_code: str = Field(default="", max_length=20)
    invoice_date: datetime | date
    due_date: date | None = None
    currency: str = Field(default="USD", min_length=3, max_length=3)
    subtotal: Money
    tax_total: Money = Decimal("0")
    fees_total: Money = Decimal("0")
    total: Money
    balance_due: Money | None = None
    status: str = Field(default="open", max_length=10)

    _floats = field_validator(
        "subtotal", "tax_total", "fees_total", "total", "balance_due", mode="before"
    )(_no_float)


class PaymentApplication(Record):
    invoice_number: str = Field(min_length=1, max_length=20)
    amount: Money

    _floats = field_validator("amount", mode="before")(_no_float)


class PaymentRecord(Record):
    payment_id: str | None = Field(default=None, max_length=20)
    customer_code: str = Field(min_length=1, max_length=20)
    customer_po: str = Field(default="", max_length=30)
    date: datetime | date
    amount: Money = Field(gt=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    method: str = Field(default="", max_length=20)
    reference: str = Field(default="", max_length=60)
    applied: list[PaymentApplication] = Field(default_factory=list)

    _floats = field_validator("amount", mode="before")(_no_float)
