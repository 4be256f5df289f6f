"""The "products" flow: item master data, each field from the side that owns it.

Options (Integration.options["products"], all optional):

    fields         {canonical field: "erp" | "shop"}; default: the ERP owns name, price,
                   weight, active and ean (EAN-13). A field the shop owns is never overwritten.
    custom_fields  {PrestaShop product field: ERP raw key}, e.g. {"mpn": "ITGR"}: custom data
                   carried from the ERP record's raw into the shop.
    id_lang        the shop language the ERP's (single-language) name is written to (default 1).

One record per item, key `product:<sku>`, collapsed and re-opened like stock records
(integrations.services.records.sync_records_open_per_item). The record reads the ERP item and
the shop
product (or combination) whose reference is the SKU, then PATCHes only the fields that differ.

Gaps, from the connectors (said here, and in the record, rather than hidden):
- shop -> ERP: neither the M3 connector (MMS200MI offers Get/List only in its catalog) nor the
  TIMS one (items are read-only) can write items. A field the shop owns that differs from the
  ERP is recorded in the record's context under `shop_owned_differences`, not sent.
- products are updated, never created, in the shop (a new product needs categories, a URL
  and tax rules a person chooses). An ERP item the shop lacks ends skipped with the reason.
- combinations carry only their own EAN and custom fields; price and weight are impacts on
  the parent product, which stay the shop's.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from connectors.canonical import Product
from connectors.errors import NotFoundError, PermanentError, SkipRecord
from connectors.models import System
from connectors.prestashop import translate as ps_translate
from connectors.prestashop.client import filter_equals
from integrations.flows.base import Flow, FlowContext
from integrations.flows.registry import register
from integrations.models import Direction, Integration, PollCursor
from integrations.services.records import sync_records_open_per_item
from integrations.services.stock import item_missing, shop_client

FLOW = "products"
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


@dataclass(frozen=True)
class ProductOptions:
    owners: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_OWNERS))
    custom_fields: dict[str, str] = field(default_factory=dict)
    id_lang: int = 1

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

    def close(self) -> None:
        self.client.session.close()


@register
class ProductsFlow(Flow):
    name = FLOW
    direction = Direction.ERP_TO_SHOP
    entity = "product"

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self.options = ProductOptions.of(integration)
        self._shop: Any = None
        self._erp: ErpItems | None = None

    @property
    def shop(self) -> Any:
        if self._shop is None:
            self._shop = shop_client(self.integration)
        return self._shop

    @property
    def erp(self) -> ErpItems:
        if self._erp is None:
            self._erp = ErpItems(self.integration)
        return self._erp

    def close(self) -> None:
        if self._shop is not None:
            self._shop.session.close()
        if self._erp is not None:
            self._erp.close()

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
        fields = PRODUCT_FIELDS if resource == "products" else COMBINATION_FIELDS
        changes: dict[str, Any] = {}
        shop_owned: list[dict[str, Any]] = []
        for name, shop_field in fields.items():
            wanted = _erp_value(erp, name)
            if wanted is None:
                continue
            current = _shop_value(record, shop_field, self.options.id_lang)
            if _same(name, current, wanted):
                continue
            if self.options.owners.get(name) == "shop":
                shop_owned.append({"field": name, "shop": current, "erp": _shown(wanted)})
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
        return {"resource": resource, "id": str(record["id"]), "changes": changes}

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        if payload["changes"]:
            self.shop.update(payload["resource"], payload["id"], payload["changes"])
        ctx.state["written"] = sorted(payload["changes"])
        return f"{payload['resource']}/{payload['id']}"


def _erp_value(product: Product, name: str) -> Any:
    return {
        "name": product.name,
        "price": product.price,
        "weight": product.weight,
        "active": product.active,
        "ean": product.ean or None,
    }[name]


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
