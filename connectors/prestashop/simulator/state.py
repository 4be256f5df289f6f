"""The simulated shop's data: tables of records, seeded from a number, and its business rules.

Records hold Python values by field kind (schema.py): ints for ids and integer columns, wire
text for decimals and dates, 0/1 for flags, {language id: text} for translated fields.
Everything written through the API is kept: histories, tracking numbers, payments, stock.
"""

import random
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.prestashop.simulator.schema import BOOL, DATE, DEC, ID, INT, LANG, SCHEMAS

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_DATE = "0000-00-00 00:00:00"
TAX_RATE = Decimal("0.20")
SHIPPING_EXCL = Decimal("5.000000")
CENT6 = Decimal("0.000001")

LANGUAGES = ((1, "English (English)", "en", "en-US"), (2, "Français (French)", "fr", "fr-FR"))
CURRENCIES = ((1, "Euro", "EUR", "978", "€"), (2, "US Dollar", "USD", "840", "$"))
CURRENCIES += ((3, "British Pound", "GBP", "826", "£"),)
# PrestaShop's install ids for these countries.
COUNTRIES = (
    (1, "DE", "Germany"),
    (6, "ES", "Spain"),
    (8, "FR", "France"),
    (10, "IT", "Italy"),
    (17, "GB", "United Kingdom"),
    (21, "US", "United States"),
)
# Default order states (reference §4): id, name, paid, shipped, delivery, logable, invoice.
ORDER_STATES = (
    (1, "Awaiting check payment", 0, 0, 0, 0, 0),
    (2, "Payment accepted", 1, 0, 0, 1, 1),
    (3, "Processing in progress", 1, 0, 1, 1, 1),
    (4, "Shipped", 1, 1, 1, 1, 1),
    (5, "Delivered", 1, 1, 1, 1, 1),
    (6, "Canceled", 0, 0, 0, 0, 0),
    (7, "Refunded", 0, 0, 0, 0, 1),
    (8, "Payment error", 0, 0, 0, 0, 0),
    (9, "On backorder (paid)", 1, 0, 0, 1, 1),
    (10, "Awaiting bank wire payment", 0, 0, 0, 0, 0),
    (11, "Remote payment accepted", 1, 0, 0, 1, 1),
    (12, "On backorder (not paid)", 0, 0, 0, 0, 0),
    (13, "Awaiting Cash On Delivery validation", 0, 0, 0, 0, 0),
)
PAID_STATES = frozenset(s[0] for s in ORDER_STATES if s[2])
# Seeded orders' states: mostly settled, some waiting, a few cancelled.
SEED_STATE_WEIGHTS = ((2, 20), (3, 10), (4, 25), (5, 25), (10, 8), (1, 4), (6, 5), (8, 3))
FIRST_NAMES = ("Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Gina", "Hugo", "Inès")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Smith", "García", "Rossi", "Müller", "Jones")
CITIES = (("FR", "Lyon", "69002"), ("FR", "Paris", "75011"), ("US", "Miami", "33133"))
CITIES += (("DE", "Berlin", "10115"), ("GB", "London", "SW1A 1AA"), ("ES", "Madrid", "28001"))
PRODUCT_NAMES = ("T-shirt", "Hoodie", "Mug", "Poster", "Notebook", "Cap", "Tote bag", "Sticker")
SIZES = ("S", "M", "L", "XL")


def money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(CENT6):f}"


def ean13(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(12)]
    digits[0] = 3  # a GS1 France-like prefix, never 0
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def default_value(kind: str) -> Any:
    if kind in (ID, INT, BOOL):
        return 0
    if kind == DEC:
        return "0.000000"
    if kind == LANG:
        return {}
    if kind == DATE:
        return NO_DATE
    return ""


@dataclass
class ShopState:
    """Tables (resource -> id -> record) behind one lock, plus what the shop did."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Paris"))
    tables: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in SCHEMAS}
    )
    next_ids: dict[str, int] = field(default_factory=dict)
    # E-mails the shop would have sent: (template, order id, detail).
    emails: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    invoice_number: int = 0
    rng: random.Random = field(default_factory=random.Random)
    product_ids: list[int] = field(default_factory=list)
    combinations_of: dict[int, list[int]] = field(default_factory=dict)

    def now(self) -> str:
        return datetime.now(self.timezone).strftime(DATE_FORMAT)

    def new_record(self, resource: str, values: dict[str, Any]) -> dict[str, Any]:
        """A record with every field at its default, `values` applied, and the next id."""
        record = {f.name: default_value(f.kind) for f in SCHEMAS[resource]}
        record.update(values)
        table = self.tables[resource]
        if not record.get("id"):
            record["id"] = self.next_ids.get(resource, 1)
        self.next_ids[resource] = max(self.next_ids.get(resource, 1), record["id"] + 1)
        table[record["id"]] = record
        return record

    def get(self, resource: str, record_id: int) -> dict[str, Any] | None:
        return self.tables[resource].get(record_id)

    # ---------------------------------------------------------------- business rules

    def change_state(self, order: dict[str, Any], state_id: int, *, send_email: bool) -> None:
        """What OrderHistory::changeIdOrderState does that an integration can observe."""
        order["current_state"] = state_id
        order["date_upd"] = self.now()
        if state_id in PAID_STATES:
            order["valid"] = 1
            if not order["invoice_number"]:
                self.invoice_number += 1
                order["invoice_number"] = self.invoice_number
                order["invoice_date"] = order["date_upd"]
        if send_email:
            self.emails.append(("order_conf_state", order["id"], str(state_id)))

    def stock_written(self, row: dict[str, Any]) -> None:
        """A combination's row was saved: the product row becomes the sum (reference §4)."""
        if not row["id_product_attribute"]:
            return
        rows = [
            r
            for r in self.tables["stock_availables"].values()
            if r["id_product"] == row["id_product"] and r["id_shop"] == row["id_shop"]
        ]
        total = sum(r["quantity"] for r in rows if r["id_product_attribute"])
        for r in rows:
            if not r["id_product_attribute"]:
                r["quantity"] = total

    def tracking_written(self, carrier_row: dict[str, Any], *, send_email: bool) -> None:
        order = self.get("orders", carrier_row["id_order"])
        if order is not None:
            order["shipping_number"] = carrier_row["tracking_number"]
            order["date_upd"] = self.now()
        if send_email:
            self.emails.append(
                ("in_transit", carrier_row["id_order"], carrier_row["tracking_number"])
            )

    def stock_row(self, product_id: int, attribute_id: int, shop_id: int = 1) -> dict | None:
        for row in self.tables["stock_availables"].values():
            if (
                row["id_product"] == product_id
                and row["id_product_attribute"] == attribute_id
                and row["id_shop"] == shop_id
            ):
                return row
        return None

    def set_stock(self, product_id: int, attribute_id: int, quantity: int, shop_id: int = 1):
        with self.lock:
            row = self.stock_row(product_id, attribute_id, shop_id)
            if row is None:
                raise KeyError(f"no stock row for product {product_id}/{attribute_id}")
            row["quantity"] = quantity
            self.stock_written(row)
            return row

    # ---------------------------------------------------------------- catalogue writes

    def product_created(self, product: dict[str, Any], *, shop_id: int = 1) -> None:
        """What Product::add does that an integration can observe: the product-level
        stock_availables row (quantity 0) and the associations pointing at it."""
        row = self.new_record(
            "stock_availables",
            {
                "id_product": product["id"],
                "id_product_attribute": 0,
                "id_shop": shop_id,
                "quantity": 0,
                "out_of_stock": 2,
            },
        )
        product.setdefault("type", "simple")
        product["type"] = product["type"] or "simple"
        product["associations"] = {
            "categories": [{"id": product.get("id_category_default") or 2}],
            "combinations": [],
            "stock_availables": [{"id": row["id"], "id_product_attribute": 0}],
        }
        self.product_ids.append(product["id"])

    def combination_created(self, combination: dict[str, Any], *, shop_id: int = 1) -> None:
        """Combination::add: its own stock row (quantity 0), the product's associations and
        default combination; the product-level row becomes the sum of the combinations."""
        product = self.tables["products"][combination["id_product"]]
        row = self.new_record(
            "stock_availables",
            {
                "id_product": product["id"],
                "id_product_attribute": combination["id"],
                "id_shop": shop_id,
                "quantity": 0,
                "out_of_stock": 2,
            },
        )
        combination.setdefault("associations", {"product_option_values": []})
        assoc = product.setdefault(
            "associations", {"categories": [], "combinations": [], "stock_availables": []}
        )
        assoc.setdefault("combinations", []).append({"id": combination["id"]})
        assoc.setdefault("stock_availables", []).append(
            {"id": row["id"], "id_product_attribute": combination["id"]}
        )
        self.combinations_of.setdefault(product["id"], []).append(combination["id"])
        if not product.get("id_default_combination"):
            product["id_default_combination"] = combination["id"]
            combination["default_on"] = 1
        self.stock_written(row)

    def back_office_edit(self, resource: str, record_id: int, **values: Any) -> dict[str, Any]:
        """A person saving the record in the back office: no webservice call, no webhook.

        Products get a new date_upd, always later than the one they had: two saves within
        one second are two changes, as a person's edit after an integration's write is.
        A combination save leaves its product's date_upd alone (reference §6.6)."""
        with self.lock:
            record = self.tables[resource][record_id]
            for name, value in values.items():
                if isinstance(record.get(name), dict) and not isinstance(value, dict):
                    record[name] = {key: value for key in record[name]}  # every language
                else:
                    record[name] = value
            if "date_upd" in record:
                previous = record.get("date_upd") or ""
                stamp = self.now()
                if previous and stamp <= previous:
                    later = datetime.strptime(previous, DATE_FORMAT) + timedelta(seconds=1)
                    stamp = later.strftime(DATE_FORMAT)
                record["date_upd"] = stamp
            return record

    def catalogue_deleted(self, resource: str, record: dict[str, Any]) -> None:
        """A product or combination was deleted: its stock rows and associations go too."""
        stock = self.tables["stock_availables"]
        if resource == "products":
            for row_id in [i for i, r in stock.items() if r["id_product"] == record["id"]]:
                del stock[row_id]
            for combo_id in self.combinations_of.pop(record["id"], []):
                self.tables["combinations"].pop(combo_id, None)
            if record["id"] in self.product_ids:
                self.product_ids.remove(record["id"])
            return
        product = self.tables["products"].get(record["id_product"])
        for row_id in [
            i
            for i, r in stock.items()
            if r["id_product"] == record["id_product"] and r["id_product_attribute"] == record["id"]
        ]:
            del stock[row_id]
        combos = self.combinations_of.get(record["id_product"], [])
        if record["id"] in combos:
            combos.remove(record["id"])
        if product is not None:
            assoc = product.get("associations") or {}
            assoc["combinations"] = [
                c for c in assoc.get("combinations", []) if c["id"] != record["id"]
            ]
            assoc["stock_availables"] = [
                r
                for r in assoc.get("stock_availables", [])
                if r["id_product_attribute"] != record["id"]
            ]
            if product.get("id_default_combination") == record["id"]:
                product["id_default_combination"] = combos[0] if combos else 0
            rows = [
                r
                for r in stock.values()
                if r["id_product"] == product["id"] and r["id_product_attribute"]
            ]
            if rows:
                self.stock_written(rows[0])

    # ---------------------------------------------------------------- orders

    def place_order(
        self,
        *,
        customer_id: int | None = None,
        lines: list[tuple[int, int, int]] | None = None,
        state_id: int = 2,
        when: datetime | None = None,
        reference: str | None = None,
        shop_id: int = 1,
        stock: bool = True,
    ) -> dict[str, Any]:
        """Create an order as checkout would: lines (product, combination, quantity), a
        carrier row, a payment when the state is paid, stock decremented."""
        rng = self.rng
        with self.lock:
            customers = self.tables["customers"]
            customer = (
                customers[customer_id] if customer_id else rng.choice(list(customers.values()))
            )
            addresses = [
                a for a in self.tables["addresses"].values() if a["id_customer"] == customer["id"]
            ]
            address = addresses[0]
            if lines is None:
                lines = []
                for product_id in rng.sample(self.product_ids, rng.randint(1, 3)):
                    combos = self.combinations_of.get(product_id, [])
                    lines.append(
                        (product_id, rng.choice(combos) if combos else 0, rng.randint(1, 3))
                    )
            stamp = (when or datetime.now(self.timezone)).strftime(DATE_FORMAT)
            rows, total_excl, total_incl = [], Decimal(0), Decimal(0)
            order_id = self.next_ids.get("orders", 1)
            for product_id, attribute_id, quantity in lines:
                product = self.tables["products"][product_id]
                combo = self.tables["combinations"].get(attribute_id) if attribute_id else None
                excl = Decimal(product["price"]) + (Decimal(combo["price"]) if combo else 0)
                incl = (excl * (1 + TAX_RATE)).quantize(CENT6)
                name = product["name"].get(1, "")
                if combo:
                    name += f" - Size : {combo['reference'].rsplit('-', 1)[-1]}"
                detail = self.new_record(
                    "order_details",
                    {
                        "id_order": order_id,
                        "product_id": product_id,
                        "product_attribute_id": attribute_id,
                        "product_quantity": quantity,
                        "product_name": name,
                        "product_reference": (combo or product)["reference"],
                        "product_ean13": (combo or product)["ean13"],
                        "product_price": money(excl),
                        "unit_price_tax_incl": money(incl),
                        "unit_price_tax_excl": money(excl),
                        "total_price_tax_incl": money(incl * quantity),
                        "total_price_tax_excl": money(excl * quantity),
                        "tax_rate": "20.000",
                        "id_shop": shop_id,
                    },
                )
                rows.append(
                    {
                        "id": detail["id"],
                        "product_id": product_id,
                        "product_attribute_id": attribute_id,
                        "product_quantity": quantity,
                        "product_name": name,
                        "product_reference": detail["product_reference"],
                        "product_ean13": detail["product_ean13"],
                        "product_isbn": "",
                        "product_upc": "",
                        "product_price": detail["product_price"],
                        "id_customization": 0,
                        "unit_price_tax_incl": detail["unit_price_tax_incl"],
                        "unit_price_tax_excl": detail["unit_price_tax_excl"],
                    }
                )
                total_excl += excl * quantity
                total_incl += incl * quantity
                if stock:
                    row = self.stock_row(product_id, attribute_id, shop_id)
                    if row is not None:
                        row["quantity"] -= quantity
                        self.stock_written(row)
            shipping_incl = (SHIPPING_EXCL * (1 + TAX_RATE)).quantize(CENT6)
            paid_incl = total_incl + shipping_incl
            order = self.new_record(
                "orders",
                {
                    "id": order_id,
                    "id_address_delivery": address["id"],
                    "id_address_invoice": address["id"],
                    "id_cart": order_id,
                    "id_currency": 1,
                    "id_lang": customer["id_lang"] or 1,
                    "id_customer": customer["id"],
                    "id_carrier": 2,
                    "current_state": state_id,
                    "module": "ps_wirepayment",
                    "valid": 1 if state_id in PAID_STATES else 0,
                    "date_add": stamp,
                    "date_upd": stamp,
                    "id_shop_group": 1,
                    "id_shop": shop_id,
                    "secure_key": "".join(rng.choices("0123456789abcdef", k=32)),
                    "payment": "Bank wire",
                    "total_paid": money(paid_incl),
                    "total_paid_tax_incl": money(paid_incl),
                    "total_paid_tax_excl": money(total_excl + SHIPPING_EXCL),
                    "total_paid_real": money(paid_incl) if state_id in PAID_STATES else money(0),
                    "total_products": money(total_excl),
                    "total_products_wt": money(total_incl),
                    "total_shipping": money(shipping_incl),
                    "total_shipping_tax_incl": money(shipping_incl),
                    "total_shipping_tax_excl": money(SHIPPING_EXCL),
                    "carrier_tax_rate": "20.000",
                    "round_mode": 2,
                    "round_type": 2,
                    "conversion_rate": "1.000000",
                    "reference": reference or "".join(rng.choices(string.ascii_uppercase, k=9)),
                    "associations": {"order_rows": rows},
                },
            )
            if state_id in PAID_STATES:
                self.invoice_number += 1
                order["invoice_number"] = self.invoice_number
                order["invoice_date"] = stamp
                invoice = self.new_record(
                    "order_invoices",
                    {
                        "id_order": order_id,
                        "number": self.invoice_number,
                        "total_paid_tax_excl": order["total_paid_tax_excl"],
                        "total_paid_tax_incl": order["total_paid_tax_incl"],
                        "total_products": order["total_products"],
                        "total_products_wt": order["total_products_wt"],
                        "total_shipping_tax_excl": order["total_shipping_tax_excl"],
                        "total_shipping_tax_incl": order["total_shipping_tax_incl"],
                        "date_add": stamp,
                    },
                )
                self.new_record(
                    "order_payments",
                    {
                        "order_reference": order["reference"],
                        "id_currency": 1,
                        "amount": order["total_paid_tax_incl"],
                        "payment_method": "Bank wire",
                        "conversion_rate": "1.000000",
                        "date_add": stamp,
                    },
                )
            else:
                invoice = None
            shipped = state_id in (4, 5)
            self.new_record(
                "order_carriers",
                {
                    "id_order": order_id,
                    "id_carrier": 2,
                    "id_order_invoice": invoice["id"] if invoice else 0,
                    "weight": "0.000000",
                    "shipping_cost_tax_excl": money(SHIPPING_EXCL),
                    "shipping_cost_tax_incl": money(shipping_incl),
                    "tracking_number": f"TRK{order_id:08d}" if shipped else "",
                    "date_add": stamp,
                },
            )
            if shipped:
                order["shipping_number"] = f"TRK{order_id:08d}"
            self.new_record(
                "order_histories",
                {"id_order_state": state_id, "id_order": order_id, "date_add": stamp},
            )
            return order


def seed_state(
    *,
    seed: int = 1,
    products: int = 12,
    customers: int = 8,
    orders: int = 20,
    timezone: str = "Europe/Paris",
    shops: int = 1,
) -> ShopState:
    """A shop with reference data, a catalogue with stock, customers and past orders."""
    state = ShopState(timezone=ZoneInfo(timezone), rng=random.Random(seed))
    rng = state.rng
    for lid, name, iso, locale in LANGUAGES:
        state.new_record(
            "languages",
            {
                "id": lid,
                "name": name,
                "iso_code": iso,
                "locale": locale,
                "language_code": locale.lower(),
                "active": 1,
                "date_format_lite": "Y-m-d",
                "date_format_full": "Y-m-d H:i:s",
            },
        )
    for cid, name, iso, numeric, symbol in CURRENCIES:
        state.new_record(
            "currencies",
            {
                "id": cid,
                "names": {1: name, 2: name},
                "name": name,
                "symbol": {1: symbol, 2: symbol},
                "iso_code": iso,
                "numeric_iso_code": numeric,
                "precision": 2,
                "conversion_rate": "1.000000",
                "active": 1,
            },
        )
    for cid, iso, name in COUNTRIES:
        state.new_record(
            "countries",
            {
                "id": cid,
                "id_zone": 1,
                "iso_code": iso,
                "active": 1,
                "need_zip_code": 1,
                "display_tax_label": 1,
                "name": {1: name, 2: name},
            },
        )
    for sid in range(1, shops + 1):
        state.new_record(
            "shops",
            {"id": sid, "id_shop_group": 1, "id_category": 2, "active": 1, "name": f"Shop {sid}"},
        )
    for cid, name, module in ((1, "Click and collect", ""), (2, "My carrier", "")):
        state.new_record(
            "carriers",
            {
                "id": cid,
                "id_reference": cid,
                "name": name,
                "active": 1,
                "external_module_name": module,
                "delay": {1: "Delivery next day!", 2: "Livraison le lendemain !"},
            },
        )
    for sid, name, paid, shipped, delivery, logable, invoice in ORDER_STATES:
        state.new_record(
            "order_states",
            {
                "id": sid,
                "name": {1: name, 2: name},
                "paid": paid,
                "shipped": shipped,
                "delivery": delivery,
                "logable": logable,
                "invoice": invoice,
                "send_email": 1,
                "unremovable": 1,
                "color": "#34209E",
            },
        )
    epoch = datetime.now(state.timezone).replace(microsecond=0) - timedelta(days=90)
    stamp = epoch.strftime(DATE_FORMAT)
    for pid in range(1, products + 1):
        base = PRODUCT_NAMES[(pid - 1) % len(PRODUCT_NAMES)]
        reference = f"SIM-{pid:04d}"
        sizes = list(SIZES[: rng.choice((0, 0, 2, 3, 4))])
        product = state.new_record(
            "products",
            {
                "id": pid,
                "id_manufacturer": 1,
                "id_supplier": 1,
                "id_category_default": 2,
                "id_tax_rules_group": 1,
                "type": "simple",
                "id_shop_default": 1,
                "reference": reference,
                "ean13": ean13(rng),
                "price": money(Decimal(rng.randrange(500, 9000)) / 100),
                "wholesale_price": money(Decimal(rng.randrange(100, 400)) / 100),
                "weight": "0.300000",
                "active": 1,
                "available_for_order": 1,
                "condition": "new",
                "visibility": "both",
                "date_add": stamp,
                "date_upd": stamp,
                "name": {1: f"{base} {pid}", 2: f"{base} {pid} (FR)"},
                "link_rewrite": {1: f"{base.lower().replace(' ', '-')}-{pid}"},
                "description": {1: f"<p>A fine {base.lower()}.</p>", 2: ""},
                "associations": {
                    "categories": [{"id": 2}],
                    "combinations": [],
                    "stock_availables": [],
                },
            },
        )
        state.product_ids.append(pid)
        stock_rows = [
            state.new_record(
                "stock_availables",
                {
                    "id_product": pid,
                    "id_product_attribute": 0,
                    "id_shop": 1,
                    "quantity": rng.randrange(0, 200),
                    "out_of_stock": 2,
                },
            )
        ]
        for size in sizes:
            combo = state.new_record(
                "combinations",
                {
                    "id_product": pid,
                    "reference": f"{reference}-{size}",
                    "ean13": ean13(rng),
                    "price": money(Decimal(SIZES.index(size))),
                    "minimal_quantity": 1,
                    "default_on": 1 if size == sizes[0] else 0,
                    "available_date": "0000-00-00",
                    "associations": {"product_option_values": [{"id": SIZES.index(size) + 1}]},
                },
            )
            state.combinations_of.setdefault(pid, []).append(combo["id"])
            product["associations"]["combinations"].append({"id": combo["id"]})
            if size == sizes[0]:
                product["id_default_combination"] = combo["id"]
            stock_rows.append(
                state.new_record(
                    "stock_availables",
                    {
                        "id_product": pid,
                        "id_product_attribute": combo["id"],
                        "id_shop": 1,
                        "quantity": rng.randrange(0, 100),
                        "out_of_stock": 2,
                    },
                )
            )
        product["associations"]["stock_availables"] = [
            {"id": r["id"], "id_product_attribute": r["id_product_attribute"]} for r in stock_rows
        ]
        state.stock_written(stock_rows[-1])
    for cid in range(1, customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        state.new_record(
            "customers",
            {
                "id": cid,
                "id_default_group": 3,
                "id_lang": rng.choice((1, 2)),
                "secure_key": "".join(rng.choices("0123456789abcdef", k=32)),
                "passwd": "$2y$10$" + "".join(rng.choices(string.ascii_letters, k=53)),
                "lastname": last.upper(),
                "firstname": first,
                "email": f"customer{cid}@example.com",
                "id_gender": rng.choice((1, 2)),
                "active": 1,
                "id_shop": 1,
                "id_shop_group": 1,
                "date_add": stamp,
                "date_upd": stamp,
                "associations": {"groups": [{"id": 3}]},
            },
        )
        for n in range(rng.choice((1, 1, 2))):
            iso, city, postcode = rng.choice(CITIES)
            country_id = next(c[0] for c in COUNTRIES if c[1] == iso)
            state.new_record(
                "addresses",
                {
                    "id_customer": cid,
                    "id_country": country_id,
                    "alias": "My address" if n == 0 else "Work",
                    "company": "" if rng.random() < 0.7 else "ACME SARL",
                    "lastname": last.upper(),
                    "firstname": first,
                    "address1": f"{rng.randrange(1, 200)} Main street",
                    "postcode": postcode,
                    "city": city,
                    "phone": f"0{rng.randrange(100000000, 999999999)}",
                    "date_add": stamp,
                    "date_upd": stamp,
                },
            )
    # Past orders, oldest first, a few seconds apart; every 10th is split from the previous
    # order's cart and shares its reference (PaymentModule::validateOrder, reference §4).
    states = [s for s, w in SEED_STATE_WEIGHTS for _ in range(w)]
    step = max(1, int(timedelta(days=89).total_seconds() // max(1, orders)))
    previous: dict[str, Any] | None = None
    for n in range(orders):
        when = epoch + timedelta(seconds=step * n + rng.randrange(0, max(1, step // 2)))
        split = previous is not None and n % 10 == 9
        order = state.place_order(
            customer_id=previous["id_customer"] if split else None,
            state_id=previous["current_state"] if split else rng.choice(states),
            when=when,
            reference=previous["reference"] if split else None,
            stock=False,
        )
        previous = order
    return state
