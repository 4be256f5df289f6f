"""The "products" flow: item master data, each field from the side that owns it.

Which field goes which way is the integration's active *product* mapping set (entity
`product`, target PrestaShop, operation `products.item_master`, see mappings/defaults/): each
row maps an ERP value (`source`, over the canonical Product: name, price, weight, active, ean,
raw.<ERP field>) to a shop field (`target_field`), and its `owner` says who wins:

- `erp`: the ERP's value is written to the shop product (or combination) when it differs. A
  shop edit of such a field is never sent to the ERP: it is listed under
  `erp_owned_differences` with the reason, and the ERP's value is written back.
- `shop`: the shop's value (when not empty) is sent to the ERP field the source names: a
  canonical field (name, price, weight, active, ean) or a custom one (`raw.CFI1` on M3,
  `raw.mpn` on TIMS). What was sent is `sent_to_erp`; differences are
  `shop_owned_differences`. The source must name one ERP field for this to be possible.

Custom fields are rows like any other (e.g. target `mpn`, source `raw.CFI1`), so they travel
both ways by the same ownership. Without an active product set the flow falls back to the
older flow options (Integration.options["products"]: `fields` {canonical: erp|shop},
`custom_fields` {shop field: ERP raw key}, always ERP-owned), kept for backwards
compatibility only. Other options: `id_lang` (the shop language the ERP's single-language
name is written to, default 1) and `create_missing` (create the shop product, and its
combinations, when no shop product or combination has the SKU as reference; default
CREATE_MISSING_DEFAULT).

One record per item, key `product:<sku>`, whoever noticed the change: the ERP scan
(products_scan), a shop webhook (product/combination events, routed in
integrations.webhooks.routing) or the shop products poller (integrations.pollers.prestashop,
date_upd cursor). Triggers re-open the same record (sync_record_enqueue / per-item open), so a
webhook and a poll of one change are one record; the record reads both sides as they are when
it runs and writes only what differs, so the second trigger writes nothing. A shop event
without a reference (an older module, a combination event) opens a `prestashop:<resource>:<id>`
record that only reads the reference and re-opens `product:<sku>` (never writes itself, so
two records never race on one item).

Loop safety: the record remembers (context `memory`) what it last wrote each way and what the
shop stored. A value the other side keeps in another form (rounding, truncation) is not
written again and again: an ERP-owned value already written whose shop value is still the
one the shop stored is left alone; a shop-owned value already sent is not re-sent until the
shop's value changes. The shop's date_upd after our write is remembered too, and the products
poller drops a product whose date_upd is exactly that (our own write coming back).

ERP writes: TIMS (assumed interface) PATCH /items/{item_code}; M3 through the connection
option `item_update_transaction` (e.g. MMS200MI/UpdItmBasic, [D] unverified) with ITDS
(name), NEWE (weight) and custom fields by their M3 name; M3 keeps price in price lists and
EAN as alias numbers, so those are noted (`erp_update_note`), not sent.

Creating (create_missing): the product is written with save_item (name in every shop
language, a link_rewrite, the ERP's reference/price/weight/active/EAN), found first by its
reference, so a re-run or a retry after a lost answer never makes a second product. It lands
in the shop's default category with no tax rule: a person finishes it in the shop. On an
existing product, ERP variants the shop lacks get their combination (existing ones are left).

Gaps:
- combinations carry only the combination fields of the set (ean13, mpn, upc, isbn,
  supplier_reference, location); price and weight are impacts on the parent, left to the shop.
- PrestaShop features (product_features) are not carried: they are ids of feature values the
  shop defines, not values; map custom data through product fields.
- a combination edited in the back office does not move its product's date_upd (reference
  §6.6), so only a webhook finds it; the poller finds combinations when their product changed.
"""

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from connectors.canonical import Product, Variant
from connectors.catalog import Catalog, FieldType, TargetField
from connectors.errors import NotFoundError, PermanentError, SkipRecord
from connectors.models import System
from connectors.prestashop import catalog as ps_catalog
from connectors.prestashop import translate as ps_translate
from connectors.prestashop.client import filter_equals
from integrations.flows.base import FlowContext
from integrations.flows.clients import ShopErpFlow
from integrations.flows.registry import register
from integrations.models import Direction, Integration, PollCursor
from integrations.services.records import (
    REOPEN_FINISHED,
    sync_record_enqueue,
    sync_records_open_per_item,
)
from integrations.services.stock import item_missing
from mappings import catalogs
from mappings.engine import CompiledMapping, compiled_for, evaluate, failure

logger = logging.getLogger(__name__)

FLOW = "products"
KEY_PREFIX = "product"
# A shop event that names no reference gets a record under this prefix that only finds it.
RESOLVE_PREFIX = "prestashop"
# An ERP item missing in the shop is created there (the ERP owns the item master); with the
# option off it is skipped with the reason and listed as unmatched.
CREATE_MISSING_DEFAULT = True
CURSOR_STREAM = "products:erp"
ITEM_MASTER_OPERATION = "products.item_master"
ERP, SHOP = "erp", "shop"
# Flow options fallback (no product mapping set): canonical field -> owner.
DEFAULT_OWNERS = {"name": ERP, "price": ERP, "weight": ERP, "active": ERP, "ean": ERP}
# canonical field -> PrestaShop product field (the options fallback and the default sets)
PRODUCT_FIELDS = {
    "name": "name",
    "price": "price",
    "weight": "weight",
    "active": "active",
    "ean": "ean13",
}
# Shop fields a combination has of its own (price and weight there are impacts).
COMBINATION_FIELDS = frozenset({"ean13", "mpn", "upc", "isbn", "supplier_reference", "location"})
# Multi-language shop fields: {language id: text}; the ERP's one text goes to `id_lang`.
LANGUAGE_FIELDS = frozenset({"name", "description_short", "description"})
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
# A mapping source that names one ERP field: a canonical field or raw.<ERP field name>.
_PLAIN_SOURCE = re.compile(r"^(?:raw\.)?[A-Za-z_][A-Za-z0-9_]*$")


def _custom(name: str, kind: FieldType = FieldType.STRING, length: int | None = 64, text=""):
    return TargetField(name, kind, max_length=length, description=text or "custom field")


# What the item-master mapping rows may target: the product fields the flow compares and
# writes. Nothing is required: a set maps the fields it wants, the shop keeps the rest. Sizes
# from the 1.7/8 Product ObjectModel [unverified, as connectors.prestashop.catalog.PRODUCT].
ITEM_MASTER = catalogs.register(
    Catalog(
        ps_catalog.SYSTEM,
        ITEM_MASTER_OPERATION,
        (
            TargetField("name", FieldType.STRING, max_length=128, description="multi-language"),
            TargetField("price", FieldType.NUMBER, decimals=6),
            TargetField("weight", FieldType.NUMBER, decimals=6),
            TargetField("active", FieldType.BOOLEAN),
            TargetField("ean13", FieldType.STRING, max_length=13, description="digits only"),
            _custom("mpn", length=40, text="manufacturer part number"),
            _custom("upc", length=12),
            _custom("isbn", length=32),
            _custom("supplier_reference", length=64),
            _custom("location", length=255, text="combination location"),
            _custom("wholesale_price", FieldType.NUMBER, None, "cost price"),
            _custom("width", FieldType.NUMBER, None),
            _custom("height", FieldType.NUMBER, None),
            _custom("depth", FieldType.NUMBER, None),
            _custom("description_short", length=800, text="multi-language summary"),
        ),
        "Item master both ways: each row's owner says which side's value wins.",
    )
)


@dataclass(frozen=True)
class FieldRule:
    """One shop field of the item master and who owns it."""

    shop_field: str
    owner: str
    # Where the value lives in the ERP: a canonical field (name, price…) or "raw.<field>";
    # "" when the mapping's source is an expression (then the shop cannot own it).
    erp_field: str
    kind: FieldType


@dataclass(frozen=True)
class ItemMaster:
    """The rules of one integration: from its active product mapping set, or the options."""

    rules: tuple[FieldRule, ...]
    origin: str
    compiled: CompiledMapping | None = None
    id_lang: int = 1
    create_missing: bool = CREATE_MISSING_DEFAULT

    def erp_values(self, product: Product) -> dict[str, Any]:
        """The ERP's value of each shop field, in the shop field's type. A mapping violation
        on an ERP-owned field stops the record (needs attention naming field and value)."""
        if self.compiled is None:
            return {r.shop_field: _erp_value(product, r.erp_field) for r in self.rules}
        payload, violations = evaluate(self.compiled, product)
        owned = {r.shop_field for r in self.rules if r.owner == ERP}
        blocking = [v for v in violations if v.field in owned]
        if blocking:
            raise failure(self.compiled, blocking)
        bad = {v.field for v in violations}
        return {k: v for k, v in payload.items() if k not in bad}


_spec_cache: dict[int, tuple[tuple, tuple[FieldRule, ...], CompiledMapping]] = {}
_spec_lock = threading.Lock()


def item_master(integration: Integration) -> ItemMaster:
    """The item master rules in force now (one small query; rows read once per set version)."""
    from mappings.models import Entity, FieldMapping, MappingSet, TargetSystem

    raw = integration.flow_options(FLOW)
    id_lang = int(raw.get("id_lang") or 1)
    create_missing = _flag(raw.get("create_missing"), CREATE_MISSING_DEFAULT)
    found = (
        MappingSet.objects.filter(
            integration=integration,
            entity=Entity.PRODUCT,
            target_system=TargetSystem.PRESTASHOP,
            active=True,
        )
        .order_by("-updated_at")
        .first()
    )
    if found is None:
        rules = _rules_from_options(integration, raw)
        return ItemMaster(
            rules, "options.products (no active product mapping set)", None, id_lang, create_missing
        )
    key = (found.pk, found.version, found.updated_at)
    hit = _spec_cache.get(found.pk)
    if hit is None or hit[0] != key:
        compiled = compiled_for(found)
        rows = FieldMapping.objects.filter(mapping_set=found).values_list(
            "target_field", "source", "owner"
        )
        rules = tuple(_rule(found.name, t, s, o) for t, s, o in rows)
        with _spec_lock:
            _spec_cache[found.pk] = hit = (key, rules, compiled)
    return ItemMaster(
        hit[1], f"mapping set {found.name!r} v{found.version}", hit[2], id_lang, create_missing
    )


def _rule(set_name: str, target: str, source: str, owner: str) -> FieldRule:
    target_field = ITEM_MASTER.get(target)
    kind = target_field.type if target_field is not None else FieldType.STRING
    first = source.split("||")[0].strip()
    erp_field = first if _PLAIN_SOURCE.match(first) else ""
    if owner == SHOP and not erp_field:
        raise PermanentError(
            f"mapping set {set_name!r}: shop-owned field {target!r} has source {source!r}, "
            "which names no single ERP field; give a canonical field (name, price, weight, "
            "active, ean) or raw.<ERP field>, or make the ERP its owner",
            field=target,
            value=source,
        )
    if owner == SHOP and not erp_field.startswith("raw.") and erp_field not in PRODUCT_FIELDS:
        raise PermanentError(
            f"mapping set {set_name!r}: shop-owned field {target!r} goes to {erp_field!r}, "
            f"which is not an ERP item field; use one of {', '.join(PRODUCT_FIELDS)} or "
            "raw.<ERP field>",
            field=target,
            value=source,
        )
    return FieldRule(target, owner, erp_field, kind)


def _rules_from_options(integration: Integration, raw: dict[str, Any]) -> tuple[FieldRule, ...]:
    owners = {**DEFAULT_OWNERS, **(raw.get("fields") or {})}
    bad = {k: v for k, v in owners.items() if v not in (ERP, SHOP)}
    if bad or set(owners) - set(PRODUCT_FIELDS):
        raise PermanentError(
            f"integration {integration.slug}: options.products.fields must map "
            f"{', '.join(PRODUCT_FIELDS)} to 'erp' or 'shop', got {owners}",
            field="options.products.fields",
            value=owners,
        )
    rules = [
        FieldRule(PRODUCT_FIELDS[name], owner, name, ITEM_MASTER.get(PRODUCT_FIELDS[name]).type)
        for name, owner in owners.items()
    ]
    for shop_field, raw_key in (raw.get("custom_fields") or {}).items():
        rules.append(FieldRule(shop_field, ERP, f"raw.{raw_key}", FieldType.STRING))
    return tuple(rules)


class ErpItems:
    """The ERP's item master: read, and written for the fields the shop owns."""

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
        """Send shop-owned values {ERP field: value} to the ERP item; an ERP field is a
        canonical name (name, price…) or "raw.<the ERP's own field>" (a custom field).

        Returns (the ERP fields sent, a note on what was not sent and why)."""
        if self.system == System.INFOR_M3:
            return self._update_m3(sku, values)
        changes = {_tims_field(name): value for name, value in values.items()}
        self.client.update_item(sku, changes)
        return sorted(values), ""

    def _update_m3(self, sku: str, values: dict[str, Any]) -> tuple[list[str], str]:
        from connectors.infor import operations

        writable = {n for n in values if n in M3_ITEM_FIELDS or n.startswith("raw.")}
        unsupported = sorted(set(values) - writable)
        note = (
            f"shop-owned {', '.join(unsupported)} not sent to M3 item {sku}: only name (ITDS), "
            "weight (NEWE) and custom fields go through item_update_transaction (M3 keeps "
            "prices in price lists and EANs as alias numbers)"
            if unsupported
            else ""
        )
        record = {_m3_field(n): v for n, v in values.items() if n in writable}
        if not record:
            return [], note
        if not self.client.settings.item_update_transaction.strip():
            disabled = (
                f"shop-owned {', '.join(sorted(writable))} not sent to M3 item {sku}: set the "
                "M3 connection option 'item_update_transaction' (e.g. MMS200MI/UpdItmBasic, "
                "unverified: confirm it on the tenant)"
            )
            return [], "; ".join(t for t in (disabled, note) if t)
        operations.item_update(self.client, itno=sku, record=record)
        return sorted(writable), note

    def close(self) -> None:
        self.client.session.close()


def _tims_field(name: str) -> str:
    return name.removeprefix("raw.") if name.startswith("raw.") else TIMS_ITEM_FIELDS[name]


def _m3_field(name: str) -> str:
    return name.removeprefix("raw.") if name.startswith("raw.") else M3_ITEM_FIELDS[name]


# Context keys one run writes afresh; `memory` outlives runs (loop safety, see the module).
RUN_KEYS = (
    "written",
    "shop_owned_differences",
    "erp_owned_differences",
    "not_resent",
    "sent_to_erp",
    "erp_update_note",
    "combinations_created",
    "created",
    "trigger",
    "mapping",
    "opened",
)


@register
class ProductsFlow(ShopErpFlow):
    name = FLOW
    direction = Direction.ERP_TO_SHOP
    entity = "product"

    def make_erp(self) -> "ErpItems":
        return ErpItems(self.integration)

    def extract(self, ctx: FlowContext) -> dict[str, Any]:
        for key in RUN_KEYS:
            ctx.state.pop(key, None)
        trigger = ctx.record.payload_in if isinstance(ctx.record.payload_in, dict) else {}
        if trigger.get("event"):
            how = "poll" if trigger.get("polled") else "webhook"
            ctx.state["trigger"] = f"shop {trigger['event']} ({how})"
        if not ctx.record.idempotency_key.startswith(f"{KEY_PREFIX}:"):
            return self._find_reference(ctx)
        spec = item_master(self.integration)
        ctx.state["mapping"] = spec.origin
        sku = ctx.record.source_id
        item = self.erp.get(sku)
        if item is None:
            raise SkipRecord(
                f"item {sku} is not in the ERP; the shop's product {sku} is left as it is and "
                "nothing is sent to the ERP (give the shop product the ERP item number as "
                "reference, or create the item in the ERP)"
            )
        combos = self.shop.list_records("combinations", filters={"reference": filter_equals(sku)})
        if combos:
            resource, record = "combinations", combos[0]
        else:
            products = self.shop.list_records("products", filters={"reference": filter_equals(sku)})
            if not products and spec.create_missing:
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

    def _find_reference(self, ctx: FlowContext) -> dict[str, Any]:
        """A shop event that named no reference: read it, so the item's own record runs."""
        resource, _, shop_id = ctx.record.source_id.partition("/")
        what = "combination" if resource == "combinations" else "product"
        try:
            found = self.shop.get(resource, shop_id, display="[id,reference]")
        except NotFoundError:
            raise SkipRecord(f"shop {what} {shop_id} no longer exists: nothing to carry") from None
        sku = str(found.get("reference") or "").strip()
        if not sku:
            raise SkipRecord(
                f"shop {what} {shop_id} has no reference, so no ERP item matches it; give it "
                "the ERP item number as reference to carry it"
            )
        return {"resolve": sku, "resource": resource, "id": shop_id}

    def transform(self, ctx: FlowContext, data: dict[str, Any]) -> dict[str, Any]:
        if "resolve" in data:
            return data
        erp = Product.model_validate(data["erp"])
        record = data["shop"]
        resource = data["resource"]
        if resource == "new":
            # Nothing in the shop to own a field yet: the new product starts from the ERP.
            ctx.state["shop_owned_differences"] = []
            return {"resource": "new", "product": data["erp"], "erp_changes": {}}
        spec = item_master(self.integration)
        memory = _memory(ctx)
        wanted_all = spec.erp_values(erp)
        changes: dict[str, Any] = {}
        planned: dict[str, str] = {}
        shop_owned: list[dict[str, Any]] = []
        erp_owned: list[dict[str, Any]] = []
        not_resent: list[dict[str, Any]] = []
        erp_changes: dict[str, Any] = {}
        for rule in spec.rules:
            name = rule.shop_field
            if resource == "combinations" and name not in COMBINATION_FIELDS:
                continue
            if name not in record:
                continue  # not a field of this shop resource
            wanted = wanted_all.get(name)
            current = _shop_value(record, name, spec.id_lang)
            if rule.owner == SHOP:
                # The shop's value goes to the ERP; an empty one never blanks the ERP's.
                if _blank(current) or (wanted is not None and _same(rule.kind, current, wanted)):
                    continue
                difference = {"field": name, "shop": _shown(current), "erp": _shown(wanted)}
                sent = memory["to_erp"].get(rule.erp_field)
                if sent is not None and sent == _plain(rule.kind, current):
                    # Sent before and the ERP keeps another form of it: not again (no loop).
                    not_resent.append(
                        {**difference, "reason": "already sent; the ERP keeps it as shown"}
                    )
                    continue
                shop_owned.append(difference)
                erp_changes[rule.erp_field] = _erp_wire(rule.kind, current)
                continue
            if wanted is None or _same(rule.kind, current, wanted):
                continue
            last = memory["to_shop"].get(name)
            if (
                last is not None
                and last["sent"] == _plain(rule.kind, wanted)
                and last["stored"] == _plain(rule.kind, current)
            ):
                continue  # the shop stores our last value in its own form: written already
            erp_owned.append(
                {
                    "field": name,
                    "shop": _shown(current),
                    "erp": _shown(wanted),
                    "reason": "the ERP owns it: the shop's value is not sent to the ERP and "
                    "is replaced by the ERP's",
                }
            )
            planned[name] = _plain(rule.kind, wanted)
            if name in LANGUAGE_FIELDS:
                languages = _languages(record.get(name))
                languages[spec.id_lang] = str(wanted)
                changes[name] = languages
            else:
                changes[name] = _wire(rule.kind, wanted)
        ctx.state["shop_owned_differences"] = shop_owned
        if erp_owned:
            ctx.state["erp_owned_differences"] = erp_owned
        if not_resent:
            ctx.state["not_resent"] = not_resent
        return {
            "resource": resource,
            "id": str(record["id"]),
            "changes": changes,
            "planned": planned,
            "id_lang": spec.id_lang,
            "kinds": {r.shop_field: r.kind.value for r in spec.rules},
            "erp_changes": erp_changes,
            "erp_kinds": {r.erp_field: r.kind.value for r in spec.rules if r.owner == SHOP},
            "variants": [v.model_dump(mode="json") for v in erp.variants]
            if resource == "products" and spec.create_missing
            else [],
        }

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        if "resolve" in payload:
            return self._open_item_record(ctx, payload)
        if payload["resource"] == "new":
            return self._create(ctx, Product.model_validate(payload["product"]))
        if payload["changes"]:
            stored = self.shop.update(payload["resource"], payload["id"], payload["changes"])
            self._remember_shop_write(ctx, payload, stored)
        ctx.state["written"] = sorted(payload["changes"])
        created = self._missing_combinations(payload["id"], payload.get("variants") or [])
        if created:
            ctx.state["combinations_created"] = created
        self._send_to_erp(ctx, payload.get("erp_changes") or {}, payload.get("erp_kinds") or {})
        return f"{payload['resource']}/{payload['id']}"

    def _open_item_record(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        # This record never writes: the item's own record does, so a webhook without a
        # reference and a poll (or the ERP scan) never run two writers for one item.
        sku = payload["resolve"]
        trigger = ctx.record.payload_in if isinstance(ctx.record.payload_in, dict) else {}
        outcome = sync_record_enqueue(
            integration=self.integration,
            flow=FLOW,
            source_id=sku,
            source_system=ctx.record.source_system,
            direction=Direction.ERP_TO_SHOP,
            reference=sku,
            payload=trigger,
            idempotency_key=f"{KEY_PREFIX}:{sku}",
            reopen=REOPEN_FINISHED,
        )
        ctx.state["opened"] = {
            "record": outcome.record.pk,
            "key": f"{KEY_PREFIX}:{sku}",
            "queued": outcome.queued,
        }
        return f"record/{outcome.record.pk}"

    def _remember_shop_write(
        self, ctx: FlowContext, payload: dict[str, Any], stored: dict[str, Any]
    ) -> None:
        memory = _memory(ctx)
        for name, sent in payload["planned"].items():
            kind = FieldType(payload["kinds"].get(name, FieldType.STRING.value))
            value = _shop_value(stored, name, payload["id_lang"]) if name in stored else sent
            memory["to_shop"][name] = {"sent": sent, "stored": _plain(kind, value)}
        if payload["resource"] == "products" and stored.get("date_upd"):
            # The poller drops a product whose date_upd is exactly this: our own write.
            memory["shop_date_upd"] = str(stored["date_upd"])

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

    def _send_to_erp(self, ctx: FlowContext, values: dict[str, Any], kinds: dict[str, str]) -> None:
        if not values:
            return
        sent, note = self.erp.update(ctx.record.source_id, values)
        ctx.state["sent_to_erp"] = sorted(sent)
        memory = _memory(ctx)
        for name in sent:
            kind = FieldType(kinds.get(name, FieldType.STRING.value))
            memory["to_erp"][name] = _plain(kind, values[name])
        if note:
            ctx.state["erp_update_note"] = note
            logger.warning("integration %s: %s", self.integration.slug, note)


def _memory(ctx: FlowContext) -> dict[str, Any]:
    memory = ctx.state.setdefault("memory", {})
    memory.setdefault("to_shop", {})
    memory.setdefault("to_erp", {})
    return memory


def _erp_value(product: Product, erp_field: str) -> Any:
    if erp_field.startswith("raw."):
        value = product.raw.get(erp_field.removeprefix("raw."))
        return None if value in (None, "") else value
    return {
        "name": product.name,
        "price": product.price,
        "weight": product.weight,
        "active": product.active,
        # TIMS carries an EAN (if at all) as the assumed custom field `ean`, kept in raw.
        "ean": product.ean or str(product.raw.get("ean") or "") or None,
    }[erp_field]


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _erp_wire(kind: FieldType, value: Any) -> Any:
    """A shop value as the ERP update takes it (JSON-storable: Decimals as strings)."""
    if kind == FieldType.BOOLEAN:
        return _truthy(value)
    if kind == FieldType.NUMBER:
        return str(Decimal(str(value)).normalize())
    return str(value)


def _plain(kind: FieldType, value: Any) -> str:
    """One text per value, to compare with what was written before (stored in context)."""
    if value is None:
        return ""
    if kind == FieldType.BOOLEAN:
        return "1" if (value is True or _truthy(value)) else "0"
    if kind == FieldType.NUMBER:
        try:
            return str(Decimal(str(value)).normalize())
        except InvalidOperation:
            return str(value)
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
    if shop_field in LANGUAGE_FIELDS and not isinstance(value, str):
        return _languages(value).get(id_lang, "")
    if shop_field == "ean13":
        return ps_translate.clean_ean(str(value or ""))
    return value


def _same(kind: FieldType, current: Any, wanted: Any) -> bool:
    if kind == FieldType.NUMBER:
        try:
            return Decimal(str(current or 0)) == Decimal(str(wanted))
        except InvalidOperation:
            return False
    if kind == FieldType.BOOLEAN:
        return _truthy(current) == (wanted is True or _truthy(wanted))
    return str(current or "") == str(wanted or "")


def _wire(kind: FieldType, value: Any) -> Any:
    if kind == FieldType.BOOLEAN:
        return 1 if (value is True or _truthy(value)) else 0
    if kind == FieldType.NUMBER:
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
