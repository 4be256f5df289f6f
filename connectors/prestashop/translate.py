"""PrestaShop wire records <-> canonical documents.

Wire records are the dicts of xml.py / the JSON renderer. Every value is normalised here,
whatever the shop sent (reference §6): numbers as strings (XML, PHP < 8.1) or ints (PHP >= 8.1),
"" or null for empty, "0000-00-00 00:00:00" for no date, 0 for no foreign key, dates without
offset in the shop's timezone, multi-language fields as a list or a plain string.

A value that cannot be read raises DataError naming the resource, record, field and value;
the canonical documents are then validated by `parse_document`, which names the field too.
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from connectors.canonical import (
    Address,
    Customer,
    Invoice,
    Order,
    OrderState,
    Payment,
    Product,
    Shipment,
    StockLevel,
    Variant,
    parse_document,
)
from connectors.errors import DataError

DEFAULT_TIMEZONE = "Europe/Paris"  # the installer's PS_TIMEZONE (reference §6)
NO_DATE = ("", "0000-00-00", "0000-00-00 00:00:00")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Default order states of a fresh 1.7/8 install (reference §4 table). Shops add and renumber
# states, so the connection option `order_states` ({id: canonical state}) overrides these.
DEFAULT_ORDER_STATES: dict[int, OrderState] = {
    1: OrderState.NEW,  # Awaiting check payment
    2: OrderState.PAID,  # Payment accepted
    3: OrderState.PROCESSING,  # Processing in progress
    4: OrderState.SHIPPED,  # Shipped
    5: OrderState.DELIVERED,  # Delivered
    6: OrderState.CANCELLED,  # Canceled
    7: OrderState.REFUNDED,  # Refunded
    8: OrderState.PAYMENT_ERROR,  # Payment error
    9: OrderState.ON_HOLD,  # On backorder (paid)
    10: OrderState.NEW,  # Awaiting bank wire payment
    11: OrderState.PAID,  # Remote payment accepted
    12: OrderState.ON_HOLD,  # On backorder (not paid)
    13: OrderState.NEW,  # Awaiting Cash On Delivery validation
}


@dataclass
class ShopContext:
    """What translation needs to know about the shop: timezone, language, id -> ISO code."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    id_lang: int | None = None
    currency_iso: Callable[[int], str] = lambda _id: ""
    country_iso: Callable[[int], str] = lambda _id: ""
    order_states: dict[int, OrderState] = field(default_factory=lambda: dict(DEFAULT_ORDER_STATES))


# ---------------------------------------------------------------- values


class Reader:
    """Reads the fields of one wire record, naming resource, id and field in every error."""

    def __init__(self, record: Any, *, resource: str) -> None:
        if not isinstance(record, dict):
            raise DataError(
                f"{resource}: expected a record, got {type(record).__name__}",
                field=resource,
                value=repr(record)[:80],
            )
        self.record = record
        self.resource = resource
        self.label = f"{resource} {record.get('id', '?')}"

    def _fail(self, name: str, value: Any, expected: str) -> DataError:
        return DataError(
            f"{self.label}: field '{name}' value {value!r} is not {expected}",
            field=name,
            value=value,
        )

    def raw(self, name: str, *, required: bool = False) -> Any:
        if name not in self.record:
            if required:
                raise DataError(f"{self.label}: field '{name}' is missing", field=name)
            return None
        return self.record[name]

    def text(self, name: str, *, required: bool = False, id_lang: int | None = None) -> str:
        value = self.raw(name, required=required)
        if isinstance(value, list):
            return language_value(value, id_lang)
        if value is None:
            return ""
        if isinstance(value, dict):
            raise self._fail(name, value, "text")
        return str(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.raw(name, required=required)
        if value is None or value == "":
            if required:
                raise self._fail(name, value, "an integer")
            return None
        if isinstance(value, bool):
            raise self._fail(name, value, "an integer")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise self._fail(name, value, "an integer") from None

    def ref(self, name: str) -> str | None:
        """A foreign key as a string id, None for PrestaShop's 0 = "none"."""
        number = self.integer(name)
        return None if not number else str(number)

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.raw(name, required=required)
        if value is None or value == "":
            if required:
                raise self._fail(name, value, "a number")
            return None
        if isinstance(value, bool):
            raise self._fail(name, value, "a number")
        if isinstance(value, float):
            value = repr(value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self._fail(name, value, "a number") from None
        if not number.is_finite():
            raise self._fail(name, value, "a number")
        return number

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if value in (None, "", "0", 0, False):
            return False
        if value in ("1", 1, True):
            return True
        raise self._fail(name, value, "a 0/1 flag")

    def moment(self, name: str, tz: ZoneInfo, *, required: bool = False) -> datetime | None:
        value = self.raw(name, required=required)
        if value is None or str(value).strip() in NO_DATE:
            if required:
                raise self._fail(name, value, "a date")
            return None
        text = str(value).strip()
        try:
            naive = datetime.strptime(text, DATE_FORMAT)
        except ValueError:
            try:
                naive = datetime.strptime(text, "%Y-%m-%d")
            except ValueError:
                raise self._fail(name, value, "a date 'YYYY-MM-DD HH:MM:SS'") from None
        # No offset on the wire: the shop's own timezone (PS_TIMEZONE). An ambiguous
        # wall-clock time at the autumn DST change takes the first (fold=0) reading.
        return naive.replace(tzinfo=tz)

    def associations(self, name: str) -> list[dict[str, Any]]:
        # An order whose details were deleted has no associations at all (reference §6).
        assoc = self.record.get("associations") or {}
        if not isinstance(assoc, dict):
            raise self._fail("associations", assoc, "an object")
        rows = assoc.get(name) or []
        if isinstance(rows, dict):  # an XML-to-dict converter's single child
            rows = [rows]
        if not isinstance(rows, list):
            raise self._fail(f"associations.{name}", rows, "a list")
        return rows


def language_value(value: Any, id_lang: int | None = None) -> str:
    """A multi-language field: a plain string (one language) or [{"id", "value"}, ...]."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        entries = [e for e in value if isinstance(e, dict)]
        if id_lang is not None:
            for entry in entries:
                if str(entry.get("id")) == str(id_lang):
                    return "" if entry.get("value") is None else str(entry["value"])
        for entry in entries:
            if entry.get("value") not in (None, ""):
                return str(entry["value"])
        return ""
    return str(value)


def _first(*values: Any) -> Any:
    """The first value that is not None (a Decimal 0 counts: it is a real amount)."""
    return next((v for v in values if v is not None), None)


def format_date(moment: datetime | date, tz: ZoneInfo) -> str:
    """A date as PrestaShop writes and filters it: shop-local, no offset."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        return moment.strftime(DATE_FORMAT)
    return moment.strftime("%Y-%m-%d")


def clean_ean(value: str) -> str:
    # 1.6 shops store "0" for no EAN13 (sample product.xml).
    value = value.strip()
    return "" if value in ("", "0") else value


# ---------------------------------------------------------------- wire -> canonical


def customer_from_wire(
    record: dict[str, Any], ctx: ShopContext, *, addresses: list[Address] | None = None
) -> Customer:
    r = Reader(record, resource="customers")
    return parse_document(
        Customer,
        {
            "id": str(r.integer("id", required=True)),
            "email": r.text("email", required=True),
            "first_name": r.text("firstname"),
            "last_name": r.text("lastname"),
            "company": r.text("company"),
            "group": r.ref("id_default_group") or "",
            "language": r.ref("id_lang") or "",
            "is_guest": r.flag("is_guest"),
            "addresses": addresses or [],
            "created_at": r.moment("date_add", ctx.timezone),
            "updated_at": r.moment("date_upd", ctx.timezone),
            "raw": record,
        },
    )


def address_from_wire(record: dict[str, Any], ctx: ShopContext) -> Address:
    r = Reader(record, resource="addresses")
    country_id = r.integer("id_country", required=True)
    return parse_document(
        Address,
        {
            "id": str(r.integer("id", required=True)),
            "first_name": r.text("firstname"),
            "last_name": r.text("lastname"),
            "company": r.text("company"),
            "line1": r.text("address1"),
            "line2": r.text("address2"),
            "postcode": r.text("postcode"),
            "city": r.text("city"),
            "country": ctx.country_iso(country_id) if country_id else "",
            "phone": r.text("phone"),
            "mobile": r.text("phone_mobile"),
            "vat_number": r.text("vat_number"),
            "raw": record,
        },
    )


def order_lines_from_wire(record: dict[str, Any]) -> list[dict[str, Any]]:
    """`associations.order_rows` as OrderLine data, resolved to product, combination, sku, EAN."""
    r = Reader(record, resource="orders")
    lines = []
    for number, row in enumerate(r.associations("order_rows"), start=1):
        rr = Reader(row, resource=f"orders {record.get('id', '?')} order_rows")
        lines.append(
            {
                "line_number": number,
                "product_id": rr.ref("product_id"),
                "variant_id": rr.ref("product_attribute_id"),
                "sku": rr.text("product_reference"),
                "ean": clean_ean(rr.text("product_ean13")),
                "name": rr.text("product_name"),
                "quantity": rr.decimal("product_quantity", required=True),
                "unit_price": rr.decimal("unit_price_tax_excl", required=True),
                "unit_price_tax_incl": rr.decimal("unit_price_tax_incl"),
                "raw": row,
            }
        )
    return lines


def order_from_wire(
    record: dict[str, Any],
    ctx: ShopContext,
    *,
    customer: Customer,
    shipping_address: Address,
    billing_address: Address,
) -> Order:
    """An order with its lines; amounts tax excluded except `total_paid` (tax included)."""
    r = Reader(record, resource="orders")
    state_id = r.integer("current_state", required=True)
    currency_id = r.integer("id_currency", required=True)
    paid_incl = _first(r.decimal("total_paid_tax_incl"), r.decimal("total_paid", required=True))
    paid_excl = r.decimal("total_paid_tax_excl")
    return parse_document(
        Order,
        {
            "id": str(r.integer("id", required=True)),
            "reference": r.text("reference", required=True),
            "state": str(state_id),
            "canonical_state": ctx.order_states.get(state_id or 0),
            "shop_id": r.ref("id_shop"),
            "customer": customer,
            "billing_address": billing_address,
            "shipping_address": shipping_address,
            "lines": order_lines_from_wire(record),
            "currency": ctx.currency_iso(currency_id) if currency_id else "",
            "total_products": r.decimal("total_products", required=True),
            "total_shipping": _first(
                r.decimal("total_shipping_tax_excl"), r.decimal("total_shipping"), Decimal("0")
            ),
            "total_discounts": _first(
                r.decimal("total_discounts_tax_excl"), r.decimal("total_discounts"), Decimal("0")
            ),
            "total_tax": (paid_incl - paid_excl) if paid_excl is not None else Decimal("0"),
            "total_paid": paid_incl,
            "payment_method": r.text("payment"),
            "carrier": r.ref("id_carrier") or "",
            "placed_at": r.moment("date_add", ctx.timezone, required=True),
            "updated_at": r.moment("date_upd", ctx.timezone),
            "note": r.text("note"),
            "raw": record,
        },
    )


def product_from_wire(
    record: dict[str, Any], ctx: ShopContext, *, combinations: list[dict[str, Any]] = ()
) -> Product:
    r = Reader(record, resource="products")
    return parse_document(
        Product,
        {
            "id": str(r.integer("id", required=True)),
            "sku": r.text("reference"),
            "ean": clean_ean(r.text("ean13")),
            "name": r.text("name", required=True, id_lang=ctx.id_lang),
            "description": r.text("description", id_lang=ctx.id_lang),
            "price": r.decimal("price"),
            "active": r.flag("active"),
            "weight": r.decimal("weight"),
            "variants": [variant_from_wire(c) for c in combinations],
            "updated_at": r.moment("date_upd", ctx.timezone),
            "raw": record,
        },
    )


def variant_from_wire(record: dict[str, Any]) -> Variant:
    r = Reader(record, resource="combinations")
    options = [
        str(Reader(v, resource="combinations").integer("id"))
        for v in r.associations("product_option_values")
    ]
    return parse_document(
        Variant,
        {
            "id": str(r.integer("id", required=True)),
            "sku": r.text("reference"),
            "ean": clean_ean(r.text("ean13")),
            "price_impact": _first(r.decimal("price"), Decimal("0")),
            "attributes": {"option_values": ",".join(options)} if options else {},
            "raw": record,
        },
    )


def stock_from_wire(record: dict[str, Any], *, sku: str, as_of: datetime) -> StockLevel:
    r = Reader(record, resource="stock_availables")
    return parse_document(
        StockLevel,
        {
            "sku": sku,
            "product_id": r.ref("id_product"),
            "variant_id": r.ref("id_product_attribute"),
            "warehouse": r.ref("id_shop") or "",
            "quantity": r.decimal("quantity", required=True),
            "as_of": as_of,
            "raw": record,
        },
    )


def shipment_from_wire(
    record: dict[str, Any], ctx: ShopContext, *, order_reference: str
) -> Shipment:
    r = Reader(record, resource="order_carriers")
    return parse_document(
        Shipment,
        {
            "id": str(r.integer("id", required=True)),
            "order_reference": order_reference,
            "erp_order_id": "",
            "carrier": r.ref("id_carrier") or "",
            "tracking_number": r.text("tracking_number"),
            "shipped_at": r.moment("date_add", ctx.timezone, required=True),
            "raw": record,
        },
    )


def payment_from_wire(record: dict[str, Any], ctx: ShopContext) -> Payment:
    r = Reader(record, resource="order_payments")
    currency_id = r.integer("id_currency", required=True)
    return parse_document(
        Payment,
        {
            "id": str(r.integer("id") or ""),
            "order_reference": r.text("order_reference", required=True),
            "amount": r.decimal("amount", required=True),
            "currency": ctx.currency_iso(currency_id) if currency_id else "",
            "method": r.text("payment_method"),
            "transaction_id": r.text("transaction_id"),
            "paid_at": r.moment("date_add", ctx.timezone, required=True),
            "raw": record,
        },
    )


def invoice_from_wire(
    record: dict[str, Any], ctx: ShopContext, *, order_reference: str, currency: str
) -> Invoice:
    r = Reader(record, resource="order_invoices")
    incl = r.decimal("total_paid_tax_incl", required=True)
    excl = r.decimal("total_paid_tax_excl", required=True)
    return parse_document(
        Invoice,
        {
            "number": str(r.integer("number", required=True)),
            "order_reference": order_reference,
            "issued_at": r.moment("date_add", ctx.timezone, required=True),
            "currency": currency,
            "total_tax_excl": excl,
            "total_tax": incl - excl,
            "total": incl,
            "raw": record,
        },
    )


# ---------------------------------------------------------------- canonical -> wire


def order_history_to_wire(
    *, order_id: int | str, state_id: int | str, employee_id: int | str | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {"id_order": order_id, "id_order_state": state_id}
    if employee_id:
        fields["id_employee"] = employee_id
    return fields


def payment_to_wire(payment: Payment, *, currency_id: int, ctx: ShopContext) -> dict[str, Any]:
    """An order_payments POST body (fields of the D8 blank schema)."""
    return {
        "order_reference": payment.order_reference,
        "id_currency": currency_id,
        "amount": payment.amount,
        "payment_method": payment.method,
        "conversion_rate": Decimal("1.000000"),
        "transaction_id": payment.transaction_id,
        "date_add": format_date(payment.paid_at, ctx.timezone),
    }


def customer_to_wire(customer: Customer) -> dict[str, Any]:
    """The customer fields the canonical model owns; others stay as the shop has them."""
    return {
        "email": customer.email,
        "firstname": customer.first_name,
        "lastname": customer.last_name,
        "company": customer.company,
        "is_guest": customer.is_guest,
    }


def address_to_wire(
    address: Address, *, customer_id: int | str, country_id: int, alias: str = ""
) -> dict[str, Any]:
    return {
        "id_customer": customer_id,
        "id_country": country_id,
        "alias": alias or address.company or "Address",
        "company": address.company,
        "lastname": address.last_name,
        "firstname": address.first_name,
        "address1": address.line1,
        "address2": address.line2,
        "postcode": address.postcode,
        "city": address.city,
        "phone": address.phone,
        "phone_mobile": address.mobile,
        "vat_number": address.vat_number,
    }


# ---------------------------------------------------------------- item master (ERP -> shop)

# Characters PrestaShop's isLinkRewrite accepts besides letters and digits (ASCII mode).
LINK_REWRITE_KEEP = "-_"
# Fields of a product / combination the ERP owns; everything else stays as the shop has it.
PRODUCT_FIELDS = ("reference", "ean13", "price", "weight", "active", "name")
COMBINATION_FIELDS = ("reference", "ean13", "price", "weight")


def link_rewrite(text: str) -> str:
    """A URL slug PrestaShop accepts (isLinkRewrite, ASCII mode): lower case, a-z 0-9 - _."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = "".join(c if c.isalnum() or c in LINK_REWRITE_KEEP else "-" for c in ascii_text.lower())
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-") or "product"


def language_dict(value: Any, *, language_ids: list[int] | None = None) -> dict[int, str]:
    """A multi-language wire value as {language id: text}.

    The JSON renderer gives a plain string when the shop has one language (reference §2):
    it then belongs to the only id in `language_ids` (or language 1).
    """
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        ids = language_ids or [1]
        return {int(ids[0]): value} if len(ids) == 1 else {int(i): value for i in ids}
    if isinstance(value, dict):  # already {id: text}
        return {int(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[int, str] = {}
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict) and str(entry.get("id", "")).strip().isdigit():
            text = entry.get("value")
            out[int(entry["id"])] = "" if text is None else str(text)
    return out


def product_to_wire(
    product: Product,
    *,
    language_ids: list[int],
    names: dict[int, str] | None = None,
    create: bool = False,
) -> dict[str, Any]:
    """The product fields the ERP owns, as a write body (Product -> `products`).

    Multi-language `name` is `{language id: text}`: `names` when given (a translation per
    language), else the canonical name in every language of `language_ids`. On create the
    required `link_rewrite` is derived from the name; on update it is left as the shop has it.
    An empty EAN13 and a missing price or weight are left out of an update.
    """
    name_by_lang = dict(names) if names else {int(i): product.name for i in language_ids}
    fields: dict[str, Any] = {"reference": product.sku, "active": product.active}
    fields["name"] = name_by_lang
    # An empty EAN or a missing price/weight is "not known", never "erase the shop's".
    if product.ean or create:
        fields["ean13"] = product.ean
    if product.price is not None:
        fields["price"] = product.price
    elif create:
        fields["price"] = Decimal("0")
    if product.weight is not None:
        fields["weight"] = product.weight
    elif create:
        fields["weight"] = Decimal("0")
    if create:
        fields["link_rewrite"] = {lang: link_rewrite(text) for lang, text in name_by_lang.items()}
    return fields


def variant_to_wire(
    variant: Variant,
    *,
    product_id: int | str,
    weight_impact: Decimal | None = None,
    create: bool = False,
) -> dict[str, Any]:
    """A combination's write body (Variant -> `combinations`): reference, EAN13, price and
    weight impacts. The canonical Variant has no weight; `weight_impact` (or raw
    "weight_impact") supplies it, else the shop's value is kept."""
    fields: dict[str, Any] = {
        "id_product": product_id,
        "reference": variant.sku,
        "price": variant.price_impact,
    }
    if variant.ean or create:
        fields["ean13"] = variant.ean
    weight = weight_impact if weight_impact is not None else variant.raw.get("weight_impact")
    if weight is not None:
        fields["weight"] = Decimal(str(weight))
    elif create:
        fields["weight"] = Decimal("0")
    if create:
        fields["minimal_quantity"] = 1  # required by the Combination definition
    return fields


def changed_fields(
    current: dict[str, Any],
    wanted: dict[str, Any],
    *,
    resource: str,
    language_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The subset of `wanted` that differs from the shop's `current` wire record.

    Compared as values, not text: "16.510000" == Decimal("16.51"), ean "0" == "", flags 0/1.
    A multi-language change carries every language the record has, the changed ones replaced,
    so a PATCH or PUT can never blank another language.
    """
    r = Reader(current, resource=resource)
    changes: dict[str, Any] = {}
    for name, value in wanted.items():
        raw = current.get(name)
        if isinstance(value, dict):
            have = language_dict(raw, language_ids=language_ids)
            merged = {**have, **{int(k): "" if v is None else str(v) for k, v in value.items()}}
            if merged != have:
                changes[name] = merged
        elif isinstance(value, bool):
            if r.flag(name) != value:
                changes[name] = value
        elif isinstance(value, Decimal):
            if r.decimal(name) != value:
                changes[name] = value
        elif name == "ean13":
            if clean_ean(str(raw or "")) != clean_ean(str(value or "")):
                changes[name] = value
        elif str("" if raw is None else raw) != str("" if value is None else value):
            changes[name] = value
    return changes
