"""The canonical model: pydantic v2 documents every connector translates to and from.

Money and quantities are Decimal (never float), datetimes are timezone-aware, countries are
ISO 3166-1 alpha-2 and currencies ISO 4217. Every document keeps the system's own record under
`raw`, so a mapping can reach a custom field the canonical model does not name.

`parse_document` is the one way in from untrusted data: a validation failure becomes a
DataError naming the field path and the bad value.
"""

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_extra_types.country import CountryAlpha2
from pydantic_extra_types.currency_code import ISO4217

from connectors.errors import DataError

Money = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=20, decimal_places=6)]
Quantity = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=20, decimal_places=6)]
Identifier = Annotated[str, Field(min_length=1, max_length=64)]


def _reject_float(value: Any) -> Any:
    # A float has already lost cents (0.1 + 0.2); systems send money as strings or ints.
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


class Document(BaseModel):
    """Base of every canonical document."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        validate_assignment=True,
        populate_by_name=True,
    )

    raw: dict[str, Any] = Field(default_factory=dict, description="the system's own record")


class Address(Document):
    id: str | None = None
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = Field(min_length=1)
    line2: str = ""
    line3: str = ""
    postcode: str = ""
    city: str = Field(min_length=1)
    region: str = ""
    country: CountryAlpha2
    phone: str = ""
    mobile: str = ""
    email: EmailStr | None = None
    vat_number: str = ""


class Customer(Document):
    id: str | None = None
    email: EmailStr
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    group: str = ""
    language: str = ""
    phone: str = ""
    vat_number: str = ""
    is_guest: bool = False
    addresses: list[Address] = Field(default_factory=list)
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _lower_email(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class OrderLine(Document):
    line_number: int = Field(ge=1)
    product_id: str | None = None
    variant_id: str | None = None
    sku: str = ""
    ean: str = ""
    name: str = ""
    quantity: Quantity = Field(gt=0)
    unit_price: Money = Field(description="unit price, tax excluded")
    unit_price_tax_incl: Money | None = None
    discount: Money = Decimal("0")
    tax_rate: Decimal | None = Field(default=None, ge=0, le=100, description="percent")
    total: Money | None = Field(default=None, description="line total, tax excluded")

    _floats = field_validator(
        "quantity", "unit_price", "unit_price_tax_incl", "discount", "total", mode="before"
    )(_reject_float)


class OrderState(StrEnum):
    """Where an order stands, whatever each system calls it (mappings translate names)."""

    NEW = "new"
    PAID = "paid"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PAYMENT_ERROR = "payment_error"
    ON_HOLD = "on_hold"


class Order(Document):
    id: Identifier
    reference: str = Field(min_length=1, max_length=64)
    state: str = Field(description="the source system's state, e.g. PrestaShop's current_state")
    canonical_state: OrderState | None = None
    shop_id: str | None = None
    customer: Customer
    billing_address: Address
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1)
    currency: ISO4217
    total_products: Money
    total_shipping: Money = Decimal("0")
    total_discounts: Money = Decimal("0")
    total_tax: Money = Decimal("0")
    total_paid: Money = Field(description="grand total, tax included")
    payment_method: str = ""
    carrier: str = ""
    placed_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    note: str = ""

    _floats = field_validator(
        "total_products",
        "total_shipping",
        "total_discounts",
        "total_tax",
        "total_paid",
        mode="before",
    )(_reject_float)


class Variant(Document):
    id: str
    sku: str = ""
    ean: str = ""
    price_impact: Money = Decimal("0")
    attributes: dict[str, str] = Field(default_factory=dict)
    active: bool = True


class Product(Document):
    id: str
    sku: str = ""
    ean: str = ""
    name: str = Field(min_length=1)
    description: str = ""
    price: Money | None = Field(default=None, description="base price, tax excluded")
    active: bool = True
    unit: str = ""
    weight: Decimal | None = None
    variants: list[Variant] = Field(default_factory=list)
    updated_at: AwareDatetime | None = None


class StockLevel(Document):
    sku: str = Field(min_length=1)
    product_id: str | None = None
    variant_id: str | None = None
    warehouse: str = ""
    quantity: Quantity = Field(description="what may be sold now")
    on_hand: Quantity | None = None
    allocated: Quantity | None = None
    as_of: AwareDatetime

    _floats = field_validator("quantity", "on_hand", "allocated", mode="before")(_reject_float)


class ShipmentLine(Document):
    sku: str = Field(min_length=1)
    quantity: Quantity = Field(gt=0)


class Shipment(Document):
    id: str
    order_reference: str = Field(min_length=1)
    erp_order_id: str = ""
    carrier: str = ""
    tracking_number: str = ""
    shipped_at: AwareDatetime
    lines: list[ShipmentLine] = Field(default_factory=list)


class Invoice(Document):
    number: str = Field(min_length=1)
    order_reference: str = ""
    erp_order_id: str = ""
    issued_at: AwareDatetime
    due_date: date | None = None
    currency: ISO4217
    total_tax_excl: Money
    total_tax: Money = Decimal("0")
    total_fees: Money = Field(
        default=Decimal("0"), description="charges (e.g. TIMS fees) inside total_tax_excl, not tax"
    )
    total: Money

    _floats = field_validator(
        "total_tax_excl",
        "total_tax",
        "total_fees",
        "total",
        mode="before",
    )(_reject_float)


class Payment(Document):
    id: str
    order_reference: str = ""
    invoice_number: str = ""
    amount: Money
    currency: ISO4217
    method: str = ""
    transaction_id: str = ""
    paid_at: AwareDatetime

    _floats = field_validator("amount", mode="before")(_reject_float)


D = TypeVar("D", bound=Document)

# Values quoted in error messages are cut to this length so a huge blob cannot flood them.
MAX_QUOTED_VALUE = 80


def parse_document(document_type: type[D], data: Any) -> D:
    """Validate untrusted data into a canonical document, or raise DataError naming the field.

    The message lists every problem ("lines.1.quantity: value 'abc': Input should be a valid
    decimal"); `field` and `value` carry the first one.
    """
    return validate_model(document_type, data)


M = TypeVar("M", bound=BaseModel)


def validate_model(model: type[M], data: Any, *, what: str = "") -> M:
    """Any pydantic model (a canonical document, a connector's wire record) validated, or a
    DataError that lists every problem and names the first field and value."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_describe(error) for error in errors]
        first = errors[0]
        raise DataError(
            f"{what or model.__name__} is invalid: " + "; ".join(problems),
            field=".".join(str(part) for part in first["loc"]),
            value=_quote(first.get("input")),
            details={"errors": problems},
        ) from None


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(document)"
    if error["type"] == "missing":
        return f"{field}: missing"
    return f"{field}: value {_quote(error.get('input'))}: {error['msg']}"


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_QUOTED_VALUE else text[: MAX_QUOTED_VALUE - 1] + "…"
