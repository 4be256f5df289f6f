"""Target field catalog of the TIMS connector, for the mapping editor and validation.

ASSUMED INTERFACE: names, types and lengths are our design (reference note §4), read from the
record models in records.py so that the catalog and what the client sends cannot drift apart.
Operation names match the default mapping sets (mappings/defaults/tims.yaml).
"""

import types
import typing
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel

from connectors.catalog import Catalog, FieldType, TargetField
from connectors.tims.records import (
    CustomerRecord,
    Fee,
    PaymentRecord,
    SalesOrder,
    SalesOrderLine,
    ShipTo,
)

SYSTEM = "tims"

DESCRIPTIONS = {
    "customer_code": "TIMS customer code (the ERP key)",
    "customer_po": "the shop order reference: the natural key looked up before creating",
    "location_id": "TIMS location / warehouse; empty lets TIMS choose",
    "will_call": "customer picks up at the location",
    "blanket_po": "the customer's blanket purchase order",
    "override_backorder": "accept the order even when it backorders",
    "fees": "charges TIMS adds (kept apart from tax)",
    "tax_total": "tax only; fees are separate",
    "ship_to_code": "a ship-to of the customer; or give ship_to inline",
}
# Fields the server fills in: never a mapping target.
READ_ONLY = frozenset({"order_number", "status", "modified_at", "payment_id"})
# Nested lists have their own catalogs.
NESTED = frozenset({"lines", "fees", "ship_tos", "applied", "ship_to", "bill_to"})


def fields_of(model: type[BaseModel]) -> tuple[TargetField, ...]:
    found = []
    for name, info in model.model_fields.items():
        if name in READ_ONLY or name in NESTED:
            continue
        field_type, allowed = _type_of(info.annotation)
        metadata = [*info.metadata, *_inner_metadata(info.annotation)]
        max_length = next((m.max_length for m in metadata if isinstance(m, MaxLen)), None)
        decimals = next((m.decimal_places for m in metadata if hasattr(m, "decimal_places")), None)
        found.append(
            TargetField(
                name=name,
                type=field_type,
                max_length=max_length,
                required=info.is_required(),
                allowed_values=allowed,
                description=DESCRIPTIONS.get(name, info.description or ""),
                decimals=decimals if field_type is FieldType.NUMBER else None,
            )
        )
    return tuple(found)


def _inner_metadata(annotation: Any) -> list[Any]:
    # Money | None keeps Money's Field(decimal_places=…) inside the union's Annotated member.
    found: list[Any] = []
    for arg in typing.get_args(annotation):
        found.extend(getattr(arg, "__metadata__", ()))
        for inner in getattr(arg, "__metadata__", ()):
            found.extend(getattr(inner, "metadata", ()))
    return found


def _type_of(annotation: Any) -> tuple[FieldType, tuple[str, ...]]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _type_of(args[0])
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_of(args[0])
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return FieldType.STRING, tuple(str(m.value) for m in annotation)
        if issubclass(annotation, bool):
            return FieldType.BOOLEAN, ()
        if issubclass(annotation, int):
            return FieldType.INTEGER, ()
        if issubclass(annotation, Decimal):
            return FieldType.NUMBER, ()
        if issubclass(annotation, datetime):
            return FieldType.DATETIME, ()
        if issubclass(annotation, date):
            return FieldType.DATE, ()
    return FieldType.STRING, ()


def catalogs() -> tuple[Catalog, ...]:
    assumed = " (assumed interface)"
    return (
        Catalog(SYSTEM, "sales_orders.create", fields_of(SalesOrder), "sales order" + assumed),
        Catalog(
            SYSTEM, "sales_order_lines.create", fields_of(SalesOrderLine), "order line" + assumed
        ),
        Catalog(SYSTEM, "sales_order_fees.create", fields_of(Fee), "order fee" + assumed),
        Catalog(SYSTEM, "customers.create", fields_of(CustomerRecord), "customer" + assumed),
        Catalog(SYSTEM, "ship_tos.create", fields_of(ShipTo), "ship-to address" + assumed),
        Catalog(SYSTEM, "payments.create", fields_of(PaymentRecord), "shop prepayment" + assumed),
    )
