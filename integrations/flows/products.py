"""The "products" flow: item master data, each field from the side that owns it.

Options (Integration.options["products"], all optional):

    fields         {canonical field: "erp" | "shop"}; default: the ERP owns name, price,
                   weight, active and ean (EAN-13). A field the shop owns is never overwritten.
    custom_fields  {PrestaShop product field: ERP raw key}, e.g. {"mpn": "ITGR"}: custom data
                   carried from the ERP record's raw into the shop.
    id_lang        the shop language the ERP's (single-language) name is written to (default 1).
    create_missing create the shop product (and its combinations, where the ERP item has
                   variants) when no shop product or combination has the SKU as reference
                   (default CREATE_MISSING_DEFAULT). False keeps the "not in shop" skip.

One record per item, key `product:<sku>`, collapsed and re-opened like stock records
(integrations.services.records.sync_records_open_per_item). The record reads the ERP item and
the shop
product (or combination) whose reference is the SKU, then PATCHes only the fields that differ.

Shop -> ERP: a field the shop owns that differs from the ERP (and is not empty in the shop)
is recorded under `shop_owned_differences` and sent to the ERP item, only that field:
- TIMS (assumed interface): PATCH /items/{item_code} (profile operation item_update) with
  description / list_price / weight / active / ean (`ean` is an assumed custom field).
- M3: the connection option `item_update_transaction` (e.g. MMS200MI/UpdItmBasic, [D]
  unverified: the reference pack has no item write) with ITDS (name) and NEWE (weight). M3
  keeps price in price lists and EAN as alias numbers: those are noted, not sent. With the
  option empty nothing is sent and the record's context says so (`erp_update_note`).
ERP-owned fields are never sent to the ERP. What was sent is `sent_to_erp`.

Creating (create_missing): the product is written with save_item (name in every shop
language, a link_rewrite, the ERP's reference/price/weight/active/EAN), found first by its
reference, so a re-run or a retry after a lost answer never makes a second product. It lands
in the shop's default category with no tax rule: a person finishes it in the shop. On an
existing product, ERP variants the shop lacks get their combination (existing ones are left).

Gaps:
- combinations carry only their own EAN and custom fields; price and weight are impacts on
  the parent product, which stay the shop's.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from connectors.canonical import Product, Variant
from connectors.errors import NotFoundError, PermanentError, SkipRecord
from connectors.models import System
from connectors.prestashop import translate as ps_translate
from connectors.prestashop.client import filter_equals
from integrations.flows.base import FlowContext
from integrations.flows.clients import ShopErpFlow
from integrations.flows.registry import register
from integrations.models import Direction, Integration, PollCursor
from integrations.services.records import sync_records_open_per_item
from integrations.services.stock import item_missing

logger = logging.getLogger(__name__)

FLOW = "products"
# An ERP item missing in the shop is created there (the ERP owns the item master); with the
# option off it is skipped with the reason and listed as unmatched.
CREATE_MISSING_DEFAULT = True
CURSOR_STREAM = "products:erp"
DEFAULT_OWNERS = {"name": "erp", "price": "erp", "weight": "erp", "active": "erp", "ean": "erp"}
# canonical field -> PrestaShop field, per shop resource
PRODUCT_FIELDS = {
    "name": "name",
    "price": "price",
    "weight": "weight",
    "active": "active",
    "ean": "ean13",
}
COMBINATION_FIELDS = {"ean": "ean13"}
# canonical field -> the ERP item's field, for shop-owned fields sent back (ASSUMED for TIMS).
TIMS_ITEM_FIELDS = {
    "name": "description",
    "price": "list_price",
    "weight": "weight",
    "active": "active",
    "ean": "ean",
}
# M3 basic data through item_update_transaction ([D]); price and EAN live elsewhere in M3.
M3_ITEM_FIELDS = {"name": "ITDS", "weight": "NEWE"}


@dataclass(frozen=True)
class ProductOptions:
    owners: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_OWNERS))
    custom_fields: dict[str, str] = field(default_factory=dict)
    id_lang: int = 1
    create_missing: bool = CREATE_MISSING_DEFAULT

    @classmethod
    def of(cls, integration: Integration) -> "ProductOptions":
        raw = integration.flow_options(FLOW)
        owners = {**DEFAULT_OWNERS, **(raw.get("fields") or {})}
        bad = {k: v for k, v in owners.items() if v not in ("erp", "shop")}
        if bad or set(owners) - set(PRODUCT_FIELDS):
            raise PermanentError(
                f"integration {integration.slug}: options.products.fields must map "
                f"{', '.join(PRODUCT_FIELDS)} to 'erp' or 'shop', got {owners}",
                field="options.products.fields",
                value=owners,
            )
        return cls(
            owners=owners,
            custom_fields=dict(raw.get("custom_fields") or {}),
            id_lang=int(raw.get("id_lang") or 1),
            create_missing=_flag(raw.get("create_missing"), CREATE_MISSING_DEFAULT),
        )


class ErpItems:
    """The ERP's item master, read-only (see the module's gaps)."""

    def __init__(self, integration: Integration) -> None:
        connection = integration.erp_connection
        self.system = connection.system
        if self.system == System.INFOR_M3:
            from connectors.infor.client import M3Client

            self.client: Any = M3Client.from_connection(connection)
        elif self.system == System.TIMS:
            from connectors.tims.client import TimsClient

            self.client = TimsClient.from_connection(connection)
        else:
            raise PermanentError(
                f"no item source for ERP system {self.system!r}", field="erp_connection"
            )

    def get(self, sku: str) -> Product | None:
        try:
            if self.system == System.INFOR_M3:
                from connectors.infor import operations, translate

                row = operations.item_get(self.client, itno=sku)
                return translate.item_to_product(
                    row, price=operations.item_price(self.client, itno=sku)
                )
            return self.client.get_item(sku)
        except NotFoundError:
            return None
        except PermanentError as error:
            if getattr(error, "field", "") == "ITNO":
                return None
            raise

    def changed(self, since: datetime) -> list[str]:
        if self.system == System.INFOR_M3:
            from connectors.infor.operations import items_changed

            rows = items_changed(self.client, since=since.astimezone(UTC).date(), maxrecs=0)
            return [str(r["ITNO"]) for r in rows if r.get("ITNO")]
        return [p.sku for p in self.client.list_items(modified_since=since)]

    def update(self, sku: str, values: dict[str, Any]) -> tuple[list[str], str]:
        """Send shop-owned values {canonical field: value} to the ERP item.

        Returns (the canonical fields sent, a note on what was not sent and why)."""
        if self.system == System.INFOR_M3:
            return self._update_m3(sku, values)
        changes = {TIMS_ITEM_FIELDS[name]: value for name, value in values.items()}
        self.client.update_item(sku, changes)
        return sorted(values), ""

    def _update_m3(self, sku: str, values: dict[str, Any]) -> tuple[list[str], str]:
        from connectors.infor import operations

        unsupported = sorted(set(values) - set(M3_ITEM_FIELDS))
        note = (
            f"shop-owned {', '.join(unsupported)} not sent to M3 item {sku}: only name (ITDS) "
            "and weight (NEWE) go through item_update_transaction (M3 keeps prices in price "
            "lists and EANs as alias numbers)"
            if unsupported
            else ""
        )
        record = {M3_ITEM_FIELDS[n]: v for n, v in values.items() if n in M3_ITEM_FIELDS}
        if not record:
            return [], note
        if not self.client.settings.item_update_transaction.strip():
            names = sorted(n for n in values if n in M3_ITEM_FIELDS)
            disabled = (
                f"shop-owned {', '.join(names)} not sent to M3 item {sku}: set the "
                "M3 connection option 'item_update_transaction' (e.g. MMS200MI/UpdItmBasic, "
                "unverified: confirm it on the tenant)"
            )
            return [], "; ".join(t for t in (disabled, note) if t)
        operations.item_update(self.client, itno=sku, record=record)
        return sorted(n for n in values if n in M3_ITEM_FIELDS), note

    def close(self) -> None:
        self.client.session.close()


@register
class ProductsFlow(ShopErpFlow):
    name = FLOW
    direction = Direction.ERP_TO_SHOP
    entity = "product"

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self.options = ProductOptions.of(integration)

    def make_erp(self) -> "ErpItems":
        return ErpItems(self.integration)

    def extract(self, ctx: FlowContext) -> dict[str, Any]:
        sku = ctx.record.source_id
        item = self.erp.get(sku)
        if item is None:
            raise SkipRecord(f"item {sku} is not in the ERP; the shop's product is left as it is")
        combos = self.shop.list_records("combinations", filters={"reference": filter_equals(sku)})
        if combos:
            resource, record = "combinations", combos[0]
        else:
            products = self.shop.list_records("products", filters={"reference": filter_equals(sku)})
            if not products and self.options.create_missing:
                return {
                    "sku": sku,
                    "resource": "new",
                    "shop": None,
                    "erp": item.model_dump(mode="json"),
                }
            if not products:
                raise SkipRecord(
                    item_missing(sku, self.integration.shop_connection.name)
                    + "; products are not created by the integration: create it in the shop "
                    "with this reference"
                )
            resource, record = "products", products[0]
        return {
            "sku": sku,
            "resource": resource,
            "shop": record,
            "erp": item.model_dump(mode="json"),
        }

    def transform(self, ctx: FlowContext, data: dict[str, Any]) -> dict[str, Any]:
        erp = Product.model_validate(data["erp"])
        record = data["shop"]
        resource = data["resource"]
        if resource == "new":
            # Nothing in the shop to own a field yet: the new product starts from the ERP.
            ctx.state["shop_owned_differences"] = []
            return {"resource": "new", "product": data["erp"], "erp_changes": {}}
        fields = PRODUCT_FIELDS if resource == "products" else COMBINATION_FIELDS
        changes: dict[str, Any] = {}
        shop_owned: list[dict[str, Any]] = []
        erp_changes: dict[str, Any] = {}
        for name, shop_field in fields.items():
            wanted = _erp_value(erp, name)
            current = _shop_value(record, shop_field, self.options.id_lang)
            if self.options.owners.get(name) == "shop":
                # The shop's value goes to the ERP; an empty one never blanks the ERP's.
                if _blank(current) or (wanted is not None and _same(name, current, wanted)):
                    continue
                shop_owned.append({"field": name, "shop": current, "erp": _shown(wanted)})
                erp_changes[name] = _erp_wire(name, current)
                continue
            if wanted is None or _same(name, current, wanted):
                continue
            if shop_field == "name":
                languages = _languages(record.get("name"))
                languages[self.options.id_lang] = str(wanted)
                changes["name"] = languages
            else:
                changes[shop_field] = _wire(name, wanted)
        for shop_field, raw_key in self.options.custom_fields.items():
            value = erp.raw.get(raw_key)
            if value not in (None, "") and str(record.get(shop_field) or "") != str(value):
                changes[shop_field] = str(value)
        ctx.state["shop_owned_differences"] = shop_owned
        return {
            "resource": resource,
            "id": str(record["id"]),
            "changes": changes,
            "erp_changes": erp_changes,
            "variants": [v.model_dump(mode="json") for v in erp.variants]
            if resource == "products" and self.options.create_missing
            else [],
        }

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        if payload["resource"] == "new":
            return self._create(ctx, Product.model_validate(payload["product"]))
        if payload["changes"]:
            self.shop.update(payload["resource"], payload["id"], payload["changes"])
        ctx.state["written"] = sorted(payload["changes"])
        created = self._missing_combinations(payload["id"], payload.get("variants") or [])
        if created:
            ctx.state["combinations_created"] = created
        self._send_to_erp(ctx, payload.get("erp_changes") or {})
        return f"{payload['resource']}/{payload['id']}"

    def _create(self, ctx: FlowContext, product: Product) -> str:
        # save_item looks the product (and each combination) up by reference before it
        # POSTs, so a retry after a lost answer, or a second record racing this one, finds
        # the first product instead of making another.
        saved = self.shop.save_item(product)
        product_id = str(saved["product"]["id"])
        ctx.state["created"] = {
            "product": product_id,
            "combinations": [str(c.get("id")) for c in saved["combinations"]],
        }
        ctx.state["written"] = ["created"]
        return f"products/{product_id}"

    def _missing_combinations(self, product_id: str, variants: list[dict[str, Any]]) -> list[str]:
        """Combinations for ERP variants the shop lacks (existing ones are left as they are)."""
        created = []
        for data in variants:
            variant = Variant.model_validate(data)
            if not variant.sku or self.shop.find_combination(variant.sku) is not None:
                continue
            record = self.shop.save_combination(variant, product_id=product_id)
            created.append(str(record.get("id")))
        return created

    def _send_to_erp(self, ctx: FlowContext, values: dict[str, Any]) -> None:
        if not values:
            return
        sent, note = self.erp.update(ctx.record.source_id, values)
        ctx.state["sent_to_erp"] = sent
        if note:
            ctx.state["erp_update_note"] = note
            logger.warning("integration %s: %s", self.integration.slug, note)


def _erp_value(product: Product, name: str) -> Any:
    return {
        "name": product.name,
        "price": product.price,
        "weight": product.weight,
        "active": product.active,
        # TIMS carries an EAN (if at all) as the assumed custom field `ean`, kept in raw.
        "ean": product.ean or str(product.raw.get("ean") or "") or None,
    }[name]


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _erp_wire(name: str, value: Any) -> Any:
    """A shop value as the ERP update takes it (JSON-storable: Decimals as strings)."""
    if name == "active":
        return str(value) in ("1", "True", "true")
    if name in ("price", "weight"):
        return str(Decimal(str(value)).normalize())
    return str(value)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _languages(value: Any) -> dict[int, str]:
    if isinstance(value, list):
        return {int(v["id"]): str(v.get("value") or "") for v in value if isinstance(v, dict)}
    if isinstance(value, dict):
        return {int(k): str(v) for k, v in value.items()}
    return {}


def _shop_value(record: dict[str, Any], shop_field: str, id_lang: int) -> Any:
    value = record.get(shop_field)
    if shop_field == "name":
        return _languages(value).get(id_lang, "") if not isinstance(value, str) else value
    if shop_field == "ean13":
        return ps_translate.clean_ean(str(value or ""))
    return value


def _same(name: str, current: Any, wanted: Any) -> bool:
    if name in ("price", "weight"):
        try:
            return Decimal(str(current or 0)) == Decimal(str(wanted))
        except InvalidOperation:
            return False
    if name == "active":
        return (str(current) in ("1", "True", "true")) == bool(wanted)
    return str(current or "") == str(wanted or "")


def _wire(name: str, value: Any) -> Any:
    if name == "active":
        return 1 if value else 0
    if name in ("price", "weight"):
        return Decimal(str(value)).quantize(Decimal("0.000001"))
    return str(value)


def _shown(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


# ---------------------------------------------------------------- scan and task


def products_scan(*, integration: Integration) -> dict[str, Any]:
    """Open a record for each item the ERP changed since the cursor (the first run only sets
    the cursor: a first full load is `products_open` over the SKUs wanted)."""
    cursor, _ = PollCursor.objects.get_or_create(integration=integration, stream=CURSOR_STREAM)
    signpost = timezone.now()
    if not cursor.value:
        opened, changed = 0, 0
    else:
        erp = ErpItems(integration)
        try:
            skus = sorted(set(erp.changed(datetime.fromisoformat(cursor.value))))
        finally:
            erp.close()
        changed = len(skus)
        opened = products_open(integration=integration, skus=skus)
    cursor.value = signpost.isoformat()
    cursor.last_run_at = cursor.last_success_at = signpost
    cursor.save()
    return {"changed": changed, "records_opened": opened}


def products_open(*, integration: Integration, skus: list[str]) -> int:
    return sync_records_open_per_item(
        integration=integration, item_ids=skus, flow=FLOW, key_prefix="product"
    )


def products_scan_task() -> dict[str, Any]:
    """Schedule: scan ERP item changes for every integration with the products flow."""
    reports = {}
    for integration in Integration.objects.filter(is_active=True).select_related("erp_connection"):
        if integration.flow_enabled(FLOW):
            reports[integration.slug] = products_scan(integration=integration)
    return reports
