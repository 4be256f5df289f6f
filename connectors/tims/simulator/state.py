"""The simulated TIMS's data and business rules, in our field names (the profile aliases them).

ASSUMED INTERFACE: this simulates our own design of a TIMS profile, not TIMS. Records are
JSON-ready dicts (Decimals as strings, datetimes ISO 8601 with an offset), seeded from a
number. Orders move open → released → shipped (with tracking) → invoiced → closed (paid),
one step every `step_seconds` of the simulator's clock, which tests move with `advance()`.
"""

import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
# Sales tax the simulator charges on taxable lines (assumed; TIMS asks its own tax tables).
TAX_RATE = Decimal("0.0825")
# Fee the simulator adds per hazmat line, kept apart from tax (TIMS charges fees; assumed code).
HAZMAT_FEE = ("HAZ", "Hazardous material fee", Decimal("7.50"))
STAGES = ("open", "released", "shipped", "invoiced", "closed")
LOCATIONS = ("MAIN", "EAST", "WEST")
SEED_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ITEMS = (
    ("CYL-AR-300", "Argon cylinder 300 cf", "EA", "89.00", True),
    ("CYL-CO2-50", "CO2 cylinder 50 lb", "EA", "54.50", True),
    ("CYL-OX-250", "Oxygen cylinder 250 cf", "EA", "72.25", True),
    ("WIRE-ER70S6-33", "MIG wire ER70S-6 .035 33 lb", "SP", "118.40", False),
    ("ROD-7018-10", "Stick electrode 7018 1/8 10 lb", "BX", "41.90", False),
    ("GLV-TIG-L", "TIG gloves, large", "PR", "19.99", False),
    ("HLM-AD-9", "Auto-darkening helmet", "EA", "229.00", False),
    ("REG-AR-FLOW", "Argon flowmeter regulator", "EA", "96.75", False),
    ("TIP-035-10", "Contact tips .035 (10)", "PK", "12.30", False),
    ("NOZ-MIG-12", "MIG nozzle 1/2", "EA", "8.45", False),
)
CUSTOMERS = (
    ("C1001", "Acme Fabrication", "orders@acme-fab.example", "Houston", "TX", "77002"),
    ("C1002", "Bluewater Welding", "buyer@bluewater.example", "Tulsa", "OK", "74103"),
    ("C1003", "Cardinal Metalworks", "ap@cardinal.example", "Dayton", "OH", "45402"),
    ("C1004", "Delta Pipe & Steel", "purchasing@delta.example", "Mobile", "AL", "36602"),
    ("C1005", "Evergreen Repair", "shop@evergreen.example", "Eugene", "OR", "97401"),
)
WEB_CUSTOMER = ("WEB", "Web store guest orders", "guest@shop.example", "Austin", "TX", "78701")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


class ValidationFailed(Exception):
    """A field-level rejection: becomes {"error": {"code", "message", "field"}} with `status`."""

    def __init__(self, field: str, message: str, *, code: str = "invalid", status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.status = status
        self.extra: dict[str, Any] = {}


class SimClock:
    """Wall-clock time plus an offset that tests (or the CLI) move forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start
        self._started = datetime.now(UTC)
        self.offset = timedelta(0)

    def now(self) -> datetime:
        base = (
            datetime.now(UTC)
            if self._start is None
            else self._start + (datetime.now(UTC) - self._started)
        )
        return base + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class SimState:
    seed: int = 1
    step_seconds: float = 60.0
    clock: SimClock = field(default_factory=SimClock)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    stock: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    counters: dict[str, int] = field(default_factory=dict)
    # order_number -> when it was created on the simulator's clock (drives its progress)
    created_at: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._seed()

    # -- seeding -----------------------------------------------------------------------

    def _seed(self) -> None:
        rng = self.rng
        for code, description, uom, price, hazmat in ITEMS:
            self.items[code] = {
                "item_code": code,
                "description": description,
                "uom": uom,
                "list_price": price,
                "taxable": True,
                "weight": str(Decimal(rng.randint(5, 1500)) / 10),
                "active": True,
                "stocked": True,
                "hazmat": hazmat,
                "modified_at": iso(SEED_TIME),
            }
            for location in LOCATIONS:
                on_hand = Decimal(rng.randint(0, 200))
                allocated = min(on_hand, Decimal(rng.randint(0, 15)))
                self.stock[(code, location)] = {
                    "item_code": code,
                    "location_id": location,
                    "on_hand": str(on_hand),
                    "allocated": str(allocated),
                    "available": str(on_hand - allocated),
                    "as_of": iso(SEED_TIME),
                }
        for code, name, email, city, region, postal in (*CUSTOMERS, WEB_CUSTOMER):
            street = f"{rng.randint(10, 9999)} {rng.choice(['Main', 'Oak', 'Industrial'])} St"
            bill_to = {
                "ship_to_code": "BILL",
                "name": name,
                "line1": street,
                "city": city,
                "region": region,
                "postal_code": postal,
                "country": "US",
            }
            ship_tos = [{**bill_to, "ship_to_code": "ST1"}]
            if rng.random() < 0.5:
                ship_tos.append({**bill_to, "ship_to_code": "ST2", "line1": "1 Yard Rd"})
            self.customers[code] = {
                "customer_code": code,
                "name": name,
                "email": email,
                "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "tax_exempt": False,
                "terms_code": "NET30",
                "currency": "USD",
                "price_level": "",
                "credit_hold": False,
                "bill_to": bill_to,
                "ship_tos": ship_tos,
                "external_ref": "",
                "modified_at": iso(SEED_TIME),
            }

    def next_id(self, kind: str, prefix: str, start: int = 1) -> str:
        self.counters[kind] = self.counters.get(kind, start - 1) + 1
        return f"{prefix}{self.counters[kind]}"

    # -- writes ------------------------------------------------------------------------

    def create_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        for name in ("name", "email"):
            if not str(data.get(name) or "").strip():
                raise ValidationFailed(name, f"{name} is required", code="required")
        if "@" not in str(data["email"]):
            raise ValidationFailed("email", "not an email address")
        code = str(data.get("customer_code") or self.next_id("customer", "C", 2001))
        if code in self.customers:
            raise ValidationFailed(
                "customer_code", f"customer {code} exists", code="duplicate", status=409
            )
        customer = {
            "tax_exempt": False,
            "terms_code": "NET30",
            "currency": "USD",
            "credit_hold": False,
            "ship_tos": [],
            **data,
            "customer_code": code,
            "modified_at": iso(self.clock.now()),
        }
        self.customers[code] = customer
        return customer

    def update_customer(self, code: str, changes: dict[str, Any]) -> dict[str, Any]:
        customer = self.customer(code)
        if "customer_code" in changes and changes["customer_code"] != code:
            raise ValidationFailed("customer_code", "the customer code cannot change")
        customer.update(changes)
        customer["modified_at"] = iso(self.clock.now())
        return customer

    def add_ship_to(self, code: str, data: dict[str, Any]) -> dict[str, Any]:
        customer = self.customer(code)
        for name in ("line1", "city", "country"):
            if not str(data.get(name) or "").strip():
                raise ValidationFailed(name, f"{name} is required", code="required")
        ship_to = {**data}
        ship_to.setdefault("ship_to_code", f"ST{len(customer['ship_tos']) + 1}")
        customer["ship_tos"].append(ship_to)
        customer["modified_at"] = iso(self.clock.now())
        return ship_to

    def customer(self, code: str) -> dict[str, Any]:
        if code not in self.customers:
            raise ValidationFailed(
                "customer_code", f"no customer {code}", code="not_found", status=404
            )
        return self.customers[code]

    def create_item(self, data: dict[str, Any]) -> dict[str, Any]:
        """POST /items (assumed): item_code and description required; 409 on a duplicate."""
        for name in ("item_code", "description"):
            if not str(data.get(name) or "").strip():
                raise ValidationFailed(name, f"{name} is required", code="required")
        code = str(data["item_code"]).strip()
        if code in self.items:
            raise ValidationFailed("item_code", f"item {code} exists", code="duplicate", status=409)
        item = {
            "uom": "EA",
            "taxable": True,
            "active": True,
            "stocked": True,
            "hazmat": False,
            **data,
            **_item_decimals(data),
            "item_code": code,
            "modified_at": iso(self.clock.now()),
        }
        self.items[code] = item
        return item

    def update_item(self, code: str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH /items/{item_code} (assumed): only the fields sent change."""
        item = self.items.get(code)
        if item is None:
            raise ValidationFailed("item_code", f"no item {code}", code="not_found", status=404)
        if "item_code" in changes and changes["item_code"] != code:
            raise ValidationFailed("item_code", "the item code cannot change")
        if "description" in changes and not str(changes["description"] or "").strip():
            raise ValidationFailed("description", "description is required", code="required")
        item.update(changes)
        item.update(_item_decimals(changes))
        item["modified_at"] = iso(self.clock.now())
        return item

    def create_order(self, data: dict[str, Any]) -> dict[str, Any]:
        customer_code = str(data.get("customer_code") or "")
        if not customer_code:
            raise ValidationFailed("customer_code", "customer_code is required", code="required")
        if customer_code not in self.customers:
            raise ValidationFailed("customer_code", f"unknown customer {customer_code!r}")
        po = str(data.get("customer_po") or "").strip()
        if not po:
            raise ValidationFailed("customer_po", "customer_po is required", code="required")
        for order in self.orders.values():
            if order["customer_po"] == po:
                error = ValidationFailed(
                    "customer_po",
                    f"customer_po {po!r} is already on order {order['order_number']}",
                    code="duplicate_customer_po",
                    status=409,
                )
                error.extra["order_number"] = order["order_number"]
                raise error
        location = data.get("location_id")
        if location and location not in LOCATIONS:
            raise ValidationFailed("location_id", f"unknown location {location!r}")
        ship_to_code = data.get("ship_to_code")
        codes = {s.get("ship_to_code") for s in self.customers[customer_code]["ship_tos"]}
        if ship_to_code and ship_to_code not in codes:
            raise ValidationFailed("ship_to_code", f"unknown ship-to {ship_to_code!r}")
        lines = data.get("lines")
        if not isinstance(lines, list) or not lines:
            raise ValidationFailed("lines", "an order needs at least one line", code="required")
        clean_lines = []
        for index, line in enumerate(lines):
            where = f"lines[{index}]"
            if not isinstance(line, dict):
                raise ValidationFailed(where, "a line must be an object")
            item = self.items.get(str(line.get("item_code") or ""))
            if item is None:
                raise ValidationFailed(
                    f"{where}.item_code", f"unknown item {line.get('item_code')!r}"
                )
            quantity = _decimal(line.get("quantity"), f"{where}.quantity")
            if quantity <= 0:
                raise ValidationFailed(f"{where}.quantity", "quantity must be positive")
            price = line.get("unit_price")
            unit_price = item["list_price"] if price in (None, "") else price
            _decimal(unit_price, f"{where}.unit_price")
            clean_lines.append(
                {
                    **line,
                    "line_no": line.get("line_no") or index + 1,
                    "quantity": str(quantity),
                    "unit_price": str(unit_price),
                    "uom": line.get("uom") or item["uom"],
                }
            )
        for index, fee in enumerate(data.get("fees") or []):
            _decimal(fee.get("amount"), f"fees[{index}].amount")
        now = self.clock.now()
        number = self.next_id("order", "SO", 100001)
        order = {
            "will_call": False,
            "override_backorder": False,
            "blanket_po": "",
            "currency": "USD",
            "freight": "0",
            "fees": [],
            "notes": "",
            **data,
            "customer_po": po,
            "order_number": number,
            "order_date": data.get("order_date") or iso(now),
            "lines": clean_lines,
            "status": "open",
            "modified_at": iso(now),
        }
        self.orders[number] = order
        self.created_at[number] = now
        return order

    def record_payment(self, data: dict[str, Any]) -> dict[str, Any]:
        customer_code = str(data.get("customer_code") or "")
        if customer_code not in self.customers:
            raise ValidationFailed("customer_code", f"unknown customer {customer_code!r}")
        amount = _decimal(data.get("amount"), "amount")
        if amount <= 0:
            raise ValidationFailed("amount", "amount must be positive")
        now = self.clock.now()
        payment = {
            "currency": "USD",
            "method": "",
            "reference": "",
            "applied": [],
            **data,
            "payment_id": self.next_id("payment", "PM", 5001),
            "amount": str(amount),
            "date": data.get("date") or iso(now),
            "modified_at": iso(now),
        }
        self.payments[payment["payment_id"]] = payment
        return payment

    # -- the order life cycle ----------------------------------------------------------

    def progress(self) -> None:
        """Move every order to the stage its age on the simulator's clock says."""
        if self.step_seconds <= 0:
            return
        now = self.clock.now()
        for number, order in self.orders.items():
            if order["status"] in ("closed", "cancelled"):
                continue
            age = (now - self.created_at.get(number, now)).total_seconds()
            target = min(len(STAGES) - 1, int(age // self.step_seconds))
            while STAGES.index(order["status"]) < target:
                stage = STAGES[STAGES.index(order["status"]) + 1]
                self._enter(order, stage, now)

    def _enter(self, order: dict[str, Any], stage: str, now: datetime) -> None:
        order["status"] = stage
        order["modified_at"] = iso(now)
        if stage == "shipped":
            self._ship(order, now)
        elif stage == "invoiced":
            self._invoice(order, now)
        elif stage == "closed":
            self._pay(order, now)

    def _ship(self, order: dict[str, Any], now: datetime) -> None:
        shipment_id = self.next_id("shipment", "SH", 70001)
        location = order.get("location_id") or "MAIN"
        for line in order["lines"]:
            row = self.stock.get((line["item_code"], location))
            if row:
                on_hand = Decimal(row["on_hand"]) - Decimal(line["quantity"])
                row["on_hand"] = str(on_hand)
                row["available"] = str(on_hand - Decimal(row["allocated"]))
                row["as_of"] = iso(now)
        carrier = "WILL CALL" if order.get("will_call") else order.get("ship_via") or "UPS"
        self.shipments[shipment_id] = {
            "shipment_id": shipment_id,
            "order_number": order["order_number"],
            "customer_po": order["customer_po"],
            "ship_date": iso(now),
            "carrier": carrier,
            "tracking_number": ""
            if order.get("will_call")
            else "1Z" + "".join(self.rng.choice("0123456789ABCDEF") for _ in range(16)),
            "lines": [
                {
                    "line_no": line["line_no"],
                    "item_code": line["item_code"],
                    "quantity_shipped": line["quantity"],
                }
                for line in order["lines"]
            ],
            "modified_at": iso(now),
        }

    def _invoice(self, order: dict[str, Any], now: datetime) -> None:
        customer = self.customers[order["customer_code"]]
        subtotal = sum(
            (
                Decimal(line["quantity"]) * Decimal(line["unit_price"])
                - Decimal(str(line.get("discount") or "0"))
                for line in order["lines"]
            ),
            Decimal("0"),
        ) + Decimal(str(order.get("freight") or "0"))
        fees = [dict(fee) for fee in order.get("fees") or []]
        for line in order["lines"]:
            if self.items[line["item_code"]].get("hazmat"):
                code, description, amount = HAZMAT_FEE
                fees.append({"code": code, "description": description, "amount": str(amount)})
        order["fees"] = fees
        fees_total = sum((Decimal(str(fee["amount"])) for fee in fees), Decimal("0"))
        tax = Decimal("0") if customer.get("tax_exempt") else (subtotal * TAX_RATE)
        tax = tax.quantize(CENT)
        order["tax_total"] = money(tax)
        total = subtotal + fees_total + tax
        prepaid = sum(
            (
                Decimal(p["amount"])
                for p in self.payments.values()
                if p.get("customer_po") == order["customer_po"]
            ),
            Decimal("0"),
        )
        number = self.next_id("invoice", "IN", 900001)
        balance = max(Decimal("0"), total - prepaid)
        self.invoices[number] = {
            "invoice_number": number,
            "order_number": order["order_number"],
            "customer_po": order["customer_po"],
            "customer_code": order["customer_code"],
            "invoice_date": iso(now),
            "due_date": (now + timedelta(days=30)).date().isoformat(),
            "currency": order.get("currency") or "USD",
            "subtotal": money(subtotal),
            "tax_total": money(tax),
            "fees_total": money(fees_total),
            "total": money(total),
            "balance_due": money(balance),
            "status": "open" if balance > 0 else "paid",
            "modified_at": iso(now),
        }
        order["invoice_number"] = number

    def _pay(self, order: dict[str, Any], now: datetime) -> None:
        invoice = self.invoices.get(order.get("invoice_number") or "")
        if invoice is None or invoice["status"] == "paid":
            return
        amount = Decimal(invoice["balance_due"])
        payment_id = self.next_id("payment", "PM", 5001)
        self.payments[payment_id] = {
            "payment_id": payment_id,
            "customer_code": order["customer_code"],
            "customer_po": order["customer_po"],
            "date": iso(now),
            "amount": money(amount),
            "currency": invoice["currency"],
            "method": "ACH",
            "reference": f"ACH-{payment_id}",
            "applied": [{"invoice_number": invoice["invoice_number"], "amount": money(amount)}],
            "modified_at": iso(now),
        }
        invoice["balance_due"] = "0.00"
        invoice["status"] = "paid"
        invoice["modified_at"] = iso(now)


def _item_decimals(data: dict[str, Any]) -> dict[str, str]:
    # Decimal strings, as the simulator stores them; a float or text is a 422 on its field.
    return {
        name: str(_decimal(data[name], name))
        for name in ("list_price", "weight")
        if data.get(name) is not None
    }


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, float | dict | list):
        raise ValidationFailed(field, f"{value!r} is not a decimal string")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(field, f"{value!r} is not a decimal string") from None
    if not number.is_finite():
        raise ValidationFailed(field, f"{value!r} is not a decimal string")
    return number
