"""Stock publishing services: scans that plan, the broken-feed guard, holds, per-item records.

One ERP feeds one or more shops: every active integration whose erp_connection is that ERP
and that enables the "inventory" flow publishes to its own shop, with its own buffer and
warehouse set (Integration.options["inventory"], see InventoryOptions).

    scan (incremental or full) -> plan targets per item -> guard -> open one record per item
    record (integrations.flows.inventory) -> re-read the ERP now -> write if different

Records collapse per item: the idempotency key is `stock:<sku>` (per integration, i.e. per
shop). A pending or retrying record already covers any newer change, because it computes its
quantity from current state when it runs; a finished one is re-opened (target id cleared) when
a scan finds the item changed again. See integrations/flows/README-stock.md.
"""

import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connectors.errors import PermanentError
from connectors.models import System
from connectors.prestashop.client import PrestaShopClient, filter_between, filter_equals
from integrations.models import (
    Direction,
    Integration,
    Link,
    PollCursor,
    PublishedStock,
    Status,
    StockHold,
    StockRun,
    StockUnmatched,
    SyncRecord,
)
from integrations.services.records import sync_records_open_per_item

logger = logging.getLogger(__name__)

FLOW = "inventory"
CURSOR_STREAM = "inventory:erp"
# Re-read this far behind the cursor: ERP clocks and late commits (rows are compared, so a
# change read twice costs nothing).
CURSOR_OVERLAP = timedelta(minutes=5)
# A scan still running after this long is presumed dead (the next one may start).
SCAN_STALE_AFTER = timedelta(minutes=30)
# New ERP items looked up in the shop per incremental scan (each costs two reads).
LOCATE_LIMIT = 200
# Items named in a hold's sample (the full list is in `skus`).
HOLD_SAMPLE = 50
# Order states that never take stock (PrestaShop defaults: cancelled, payment error).
NO_STOCK_STATES = frozenset({"6", "8"})


class StockActionError(Exception):
    """A person asked for something a hold's state does not allow; the message says why."""


# ---------------------------------------------------------------- options


@dataclass(frozen=True)
class InventoryOptions:
    """Integration.options["inventory"]; every key optional."""

    buffer: int = 0  # safety stock kept back from the shop, per item
    warehouses: tuple[str, ...] = ()  # M3 WHLO / TIMS location ids; () = the connection's
    hold_ratio: float = 0.5  # hold a push that zeroes or cuts this share of the catalogue…
    hold_min_items: int = 20  # …and at least this many items
    cut_ratio: float = 0.5  # an item counts as cut when it loses more than this share
    page_size: int = 500  # shop products per chunk of a full reconciliation
    erp_threads: int = 4  # concurrent ERP reads in a scan
    reserve_recent_orders: bool = True  # subtract shop orders the ERP does not reflect yet
    in_flight_window_minutes: int = 120  # how far back shop orders are read for that
    allocation_lag_seconds: int = 300  # an ERP order counts as allocated this long after link
    order_link_entity: str = "order"  # Link.entity the order-to-cash flow binds orders with
    item_value_map: str = ""  # a value map: shop reference -> ERP item (default: the same)

    @classmethod
    def of(cls, integration: Integration) -> "InventoryOptions":
        raw = dict(integration.flow_options(FLOW))
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        if isinstance(known.get("warehouses"), str):
            known["warehouses"] = tuple(w for w in known["warehouses"].split(",") if w)
        elif "warehouses" in known:
            known["warehouses"] = tuple(str(w) for w in known["warehouses"])
        try:
            return cls(**known)
        except TypeError as error:
            raise PermanentError(
                f"integration {integration.slug}: options.inventory is invalid: {error}",
                field="options.inventory",
                value=raw,
            ) from None


def target_quantity(*, available: Decimal, buffer: int, in_flight: int = 0) -> int:
    """What the shop may sell: the ERP's availability, less safety stock and in-flight orders,
    rounded down (never oversell a fraction), never below zero."""
    return max(0, math.floor(available) - buffer - in_flight)


# ---------------------------------------------------------------- the ERP side


class ErpStock(Protocol):
    def availability(self, skus: list[str]) -> dict[str, Decimal]:
        """Availability summed over the configured warehouses; an unknown item is absent."""

    def changed_skus(self, since: datetime) -> Iterator[str]:
        """Items whose stock (or item record) changed since `since`."""


class M3Stock:
    """M3: MMS200MI/GetItmWhsBal in bulk for each item and warehouse (figure per the
    connection's available_field). M3's MI set has no stock-movement list here, so the change
    feed is MMS200MI/LstItmByChgDate (item master changes, by day); stock moves without an item
    change are caught by the full reconciliation's schedule."""

    def __init__(self, client: Any, *, warehouses: tuple[str, ...] = (), threads: int = 4):
        self.client = client
        self.warehouses = list(warehouses or client.settings.stock_warehouses)
        self.threads = max(1, threads)

    def availability(self, skus: list[str]) -> dict[str, Decimal]:
        # operations.stock_balances drops which item a failed result was for, and "no balance
        # in that warehouse" must count as 0 rather than "unknown item": bulk calls are made
        # here, keeping each result with what was sent.
        from connectors.infor.catalog import convert_output
        from connectors.infor.client import BulkTransaction
        from connectors.infor.translate import available_quantity

        if not skus:
            return {}
        if not self.warehouses:
            raise PermanentError(
                "no warehouse to read stock from: set the inventory option 'warehouses' or "
                "the M3 connection option 'warehouses'",
                field="warehouses",
            )
        size = max(1, self.client.settings.bulk_max // len(self.warehouses))
        groups = [skus[i : i + size] for i in range(0, len(skus), size)]

        def read(group: list[str]) -> list[tuple[Any, dict[str, str]]]:
            txs = [
                BulkTransaction("GetItmWhsBal", {"WHLO": w, "ITNO": sku})
                for sku in group
                for w in self.warehouses
            ]
            return self.client.execute_bulk("MMS200MI", txs)

        if len(groups) == 1 or self.threads == 1:
            results = [read(g) for g in groups]
        else:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                results = list(pool.map(read, groups))
        field_name = self.client.settings.available_field
        totals: dict[str, Decimal] = {}
        for pairs in results:
            for result, sent in pairs:
                sku = str(sent.get("ITNO") or "")
                if result.ok:
                    for row in result.records:
                        row = convert_output({**sent, **row})
                        quantity = max(Decimal("0"), available_quantity(row, field=field_name))
                        totals[sku] = totals.get(sku, Decimal("0")) + quantity
                elif result.error_field == "WHLO":
                    totals.setdefault(sku, Decimal("0"))  # the item, not stocked there
                elif result.error_field != "ITNO":  # ITNO: unknown item, stays absent
                    raise result.error("MMS200MI", sent)
        return totals

    def changed_skus(self, since: datetime) -> Iterator[str]:
        from connectors.infor.operations import items_changed

        for row in items_changed(self.client, since=since.astimezone(UTC).date(), maxrecs=0):
            if row.get("ITNO"):
                yield str(row["ITNO"])


class TimsStock:
    """TIMS (assumed interface): GET /inventory per location, with modified_since as a real
    change cursor. It has no per-item read, so availability comes from one streamed pass over
    the inventory, kept for `ttl` seconds (not flat in memory: one Decimal per item)."""

    def __init__(self, client: Any, *, locations: tuple[str, ...] = (), ttl: float = 60.0):
        self.client = client
        self.locations = list(locations) or [None]
        self.ttl = ttl
        self._cache: tuple[float, dict[str, Decimal]] | None = None
        self._lock = threading.Lock()

    def _all(self) -> dict[str, Decimal]:
        with self._lock:
            if self._cache and time.monotonic() - self._cache[0] < self.ttl:
                return self._cache[1]
            totals: dict[str, Decimal] = {}
            for location in self.locations:
                for level in self.client.list_inventory(location_id=location):
                    totals[level.sku] = totals.get(level.sku, Decimal("0")) + max(
                        Decimal("0"), level.quantity
                    )
            self._cache = (time.monotonic(), totals)
            return totals

    def availability(self, skus: list[str]) -> dict[str, Decimal]:
        everything = self._all()
        return {s: everything[s] for s in skus if s in everything}

    def changed_skus(self, since: datetime) -> Iterator[str]:
        self._cache = None  # a change feed read means fresh figures are wanted
        for location in self.locations:
            for level in self.client.list_inventory(location_id=location, modified_since=since):
                yield level.sku


class MappedErpStock:
    """Shop SKUs that differ from ERP item numbers, through a value map (Mappings > Value
    maps): shop reference -> ERP item. Unmapped SKUs are the item number itself. Two shop
    SKUs mapped to one ERP item each get its whole availability (one stock, two listings)."""

    def __init__(self, inner: ErpStock, entries: dict[str, str], *, case_sensitive: bool):
        self.inner = inner
        self.client = getattr(inner, "client", None)
        self.case_sensitive = case_sensitive
        self.forward = {self._fold(k): v for k, v in entries.items() if v}
        self.reverse: dict[str, list[str]] = {}
        for shop_sku, item in entries.items():
            if item:
                self.reverse.setdefault(item, []).append(shop_sku)

    def _fold(self, key: str) -> str:
        return key if self.case_sensitive else key.casefold()

    def item_of(self, sku: str) -> str:
        return self.forward.get(self._fold(sku), sku)

    def availability(self, skus: list[str]) -> dict[str, Decimal]:
        items = {sku: self.item_of(sku) for sku in skus}
        found = self.inner.availability(sorted(set(items.values())))
        return {sku: found[item] for sku, item in items.items() if item in found}

    def changed_skus(self, since: datetime) -> Iterator[str]:
        for item in self.inner.changed_skus(since):
            yield from self.reverse.get(item, [item])


def erp_stock_for(integration: Integration, options: InventoryOptions | None = None) -> ErpStock:
    options = options or InventoryOptions.of(integration)
    source = _erp_stock(integration, options)
    if not options.item_value_map:
        return source
    from mappings.models import ValueMap

    value_map = ValueMap.objects.filter(name=options.item_value_map).first()
    if value_map is None:
        raise PermanentError(
            f"option inventory.item_value_map names value map {options.item_value_map!r}, "
            "which does not exist; add it under Mappings > Value maps",
            field="options.inventory.item_value_map",
            value=options.item_value_map,
        )
    entries = dict(value_map.entries.values_list("source_value", "target_value"))
    return MappedErpStock(source, entries, case_sensitive=value_map.case_sensitive)


def _erp_stock(integration: Integration, options: InventoryOptions) -> ErpStock:
    connection = integration.erp_connection
    if connection.system == System.INFOR_M3:
        from connectors.infor.client import M3Client

        return M3Stock(
            M3Client.from_connection(connection),
            warehouses=options.warehouses,
            threads=options.erp_threads,
        )
    if connection.system == System.TIMS:
        from connectors.tims.client import TimsClient

        return TimsStock(TimsClient.from_connection(connection), locations=options.warehouses)
    raise PermanentError(
        f"integration {integration.slug}: no stock source for ERP system {connection.system!r}",
        field="erp_connection",
        value=connection.system,
    )


# ---------------------------------------------------------------- the shop side


@dataclass(frozen=True)
class ShopItem:
    sku: str
    product_id: str
    combination_id: str
    stock_available_id: str
    quantity: int


def shop_client(integration: Integration) -> PrestaShopClient:
    return PrestaShopClient.from_connection(integration.shop_connection)


def shop_items(client: PrestaShopClient, *, page_size: int = 500) -> Iterator[list[ShopItem]]:
    """The shop's sellable items, a chunk of products at a time (flat memory): each product
    without combinations is an item, each combination of the others is one. The SKU is the
    reference; items without one cannot be matched and are left out."""
    offset = 0
    while True:
        products = client.list_records(
            "products", display="[id,reference]", sort="[id_ASC]", limit=f"{offset},{page_size}"
        )
        if not products:
            return
        offset += len(products)
        ids = [int(p["id"]) for p in products]
        span = filter_between(min(ids), max(ids))
        combinations = {
            str(c["id"]): c
            for c in client.iter_records(
                "combinations",
                filters={"id_product": span},
                display="[id,id_product,reference]",
                page_size=page_size * 4,
            )
        }
        with_combinations = {str(c["id_product"]) for c in combinations.values()}
        references = {str(p["id"]): str(p.get("reference") or "") for p in products}
        chunk: list[ShopItem] = []
        for row in client.iter_records(
            "stock_availables",
            filters={"id_product": span},
            display="[id,id_product,id_product_attribute,quantity]",
            page_size=page_size * 4,
        ):
            product_id, attribute_id = str(row["id_product"]), str(row["id_product_attribute"])
            if attribute_id in ("0", ""):
                if product_id in with_combinations:
                    continue  # PrestaShop sums the combinations into this row
                sku = references.get(product_id, "")
            else:
                sku = str((combinations.get(attribute_id) or {}).get("reference") or "")
            if sku:
                chunk.append(
                    ShopItem(sku, product_id, attribute_id or "0", str(row["id"]), _int(row))
                )
        yield chunk


def shop_locate(client: PrestaShopClient, sku: str) -> ShopItem | None:
    """Find one SKU in the shop: a combination's reference first, then a product's."""
    combos = client.list_records(
        "combinations",
        filters={"reference": filter_equals(sku)},
        display="[id,id_product,reference]",
    )
    if combos:
        product_id, attribute_id = str(combos[0]["id_product"]), str(combos[0]["id"])
    else:
        products = client.list_records(
            "products", filters={"reference": filter_equals(sku)}, display="[id,reference]"
        )
        if not products:
            return None
        product_id, attribute_id = str(products[0]["id"]), "0"
    rows = client.list_records(
        "stock_availables",
        filters={"id_product": filter_equals(product_id)},
        display="[id,id_product,id_product_attribute,quantity]",
    )
    if attribute_id == "0" and any(str(r["id_product_attribute"]) != "0" for r in rows):
        raise PermanentError(
            f"item {sku} is product {product_id}, which has combinations: its stock is the sum "
            "of theirs; give each combination its own reference (SKU) instead",
            field="id_product_attribute",
            value=sku,
        )
    for row in rows:
        if str(row["id_product_attribute"]) == attribute_id:
            return ShopItem(sku, product_id, attribute_id, str(row["id"]), _int(row))
    return None


def _int(row: dict[str, Any]) -> int:
    try:
        return int(str(row.get("quantity") or 0))
    except ValueError:
        return 0


# ---------------------------------------------------------------- in-flight shop orders


def recent_order_demand(
    client: PrestaShopClient,
    *,
    integration: Integration,
    options: InventoryOptions,
    now: datetime | None = None,
) -> dict[str, int]:
    """Quantities per SKU on recent shop orders the ERP does not reflect yet.

    An order placed in the shop has already lowered the shop's stock, but until the ERP has
    the order (and has allocated it), the ERP's availability still counts those units: writing
    it back would re-inflate the shop. An order counts as reflected once the order-to-cash
    flow linked it to an ERP order more than `allocation_lag_seconds` ago.
    """
    if not options.reserve_recent_orders:
        return {}
    now = now or timezone.now()
    since = now - timedelta(minutes=options.in_flight_window_minutes)
    settled_before = now - timedelta(seconds=options.allocation_lag_seconds)
    orders = []
    for order in client.iter_changed("orders", since=since, display="full"):
        placed = _shop_time(str(order.get("date_add") or ""), client)
        if placed is None or placed < since:
            continue
        if str(order.get("current_state")) in NO_STOCK_STATES:
            continue
        orders.append(order)
    if not orders:
        return {}
    reflected = set(
        Link.objects.filter(
            integration=integration,
            entity=options.order_link_entity,
            shop_id__in=[str(o["id"]) for o in orders],
            created_at__lte=settled_before,
        ).values_list("shop_id", flat=True)
    )
    demand: dict[str, int] = {}
    for order in orders:
        if str(order["id"]) in reflected:
            continue
        rows = (order.get("associations") or {}).get("order_rows") or []
        for row in rows if isinstance(rows, list) else [rows]:
            sku = str(row.get("product_reference") or "")
            if sku:
                demand[sku] = demand.get(sku, 0) + int(str(row.get("product_quantity") or 0))
    return demand


def _shop_time(text: str, client: PrestaShopClient) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=client.timezone)
    except ValueError:
        return None


# ---------------------------------------------------------------- planning and the guard


@dataclass
class Plan:
    """What a scan found, added up chunk by chunk."""

    items: int = 0
    unchanged: int = 0
    to_write: int = 0
    drift: int = 0
    zeroed: int = 0
    cut: int = 0
    not_in_erp: int = 0
    unmatched: int = 0
    duplicates: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    # The items this scan would write: only these are published (or held), never targets a
    # crashed earlier scan may have left behind.
    skus: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "unchanged": self.unchanged,
            "to_write": self.to_write,
            "drift_fixed": self.drift,
            "zeroed": self.zeroed,
            "cut": self.cut,
            "not_in_erp": self.not_in_erp,
            "unmatched_erp_items": self.unmatched,
            "duplicate_skus": self.duplicates,
        }


def plan_items(
    *,
    integration: Integration,
    items: list[ShopItem],
    available: dict[str, Decimal],
    demand: dict[str, int],
    options: InventoryOptions,
    plan: Plan,
    now: datetime,
    shop_quantities_known: bool,
) -> None:
    """Compare one chunk of items with the ERP and store each one's target (bulk upsert).

    `shop_quantities_known`: the items carry the shop's current quantity (a full read), which
    then replaces the last published figure (drift is the shop moving without us).
    """
    existing = {
        p.sku: p
        for p in PublishedStock.objects.filter(
            integration=integration, sku__in=[i.sku for i in items]
        )
    }
    rows = []
    seen: set[str] = set()
    for item in items:
        row = existing.get(item.sku)
        again = row is not None and row.checked_at == now  # seen earlier in this scan
        if item.sku in seen or (
            again and (row.product_id, row.combination_id) != (item.product_id, item.combination_id)
        ):
            # Two shop items share a reference: the first one found is published, the others
            # are counted (a person should give each its own reference).
            plan.duplicates += 1
            continue
        seen.add(item.sku)
        row = row or PublishedStock(integration=integration, sku=item.sku)
        row.product_id, row.combination_id = item.product_id, item.combination_id
        row.stock_available_id = item.stock_available_id
        if shop_quantities_known:
            if row.quantity is not None and row.quantity != item.quantity:
                plan.drift += 1
            row.quantity = item.quantity
        current = row.quantity
        plan.items += 1
        row.checked_at = now
        if item.sku not in available:
            plan.not_in_erp += 1
            row.target = None
            rows.append(row)
            continue
        row.erp_quantity = available[item.sku]
        target = target_quantity(
            available=available[item.sku],
            buffer=options.buffer,
            in_flight=demand.get(item.sku, 0),
        )
        if current is not None and target == current:
            plan.unchanged += 1
            row.target = None
        else:
            plan.to_write += 1
            plan.skus.append(item.sku)
            row.target = target
            if current:
                if target == 0:
                    plan.zeroed += 1
                elif target < current * (1 - options.cut_ratio):
                    plan.cut += 1
            if len(plan.samples) < HOLD_SAMPLE:
                plan.samples.append({"sku": item.sku, "from": current, "to": target})
        rows.append(row)
    PublishedStock.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["integration", "sku"],
        update_fields=[
            "product_id",
            "combination_id",
            "stock_available_id",
            "quantity",
            "erp_quantity",
            "target",
            "checked_at",
        ],
        batch_size=500,
    )


def guard_trips(plan: Plan, *, catalogue_size: int, options: InventoryOptions) -> bool:
    """Whether a push zeroes or cuts too much of the catalogue at once to be believed."""
    suspicious = plan.zeroed + plan.cut
    return suspicious >= max(options.hold_min_items, options.hold_ratio * catalogue_size)


def open_hold(integration: Integration) -> StockHold | None:
    return StockHold.objects.filter(integration=integration, state=StockHold.State.HELD).first()


def _pending_skus(integration: Integration) -> list[str]:
    # A list, not a streamed cursor: the caller writes while it walks them (SQLite cannot
    # keep a cursor open across those commits), and pending items are the few that changed.
    return list(
        PublishedStock.objects.filter(integration=integration, target__isnull=False)
        .order_by("sku")
        .values_list("sku", flat=True)
    )


def _publish_or_hold(
    *, integration: Integration, plan: Plan, options: InventoryOptions, run: StockRun
) -> dict[str, Any]:
    held = open_hold(integration)
    if held is not None:
        return {"held_by": held.pk, "records_opened": 0}
    catalogue = PublishedStock.objects.filter(integration=integration).count()
    if plan.to_write and guard_trips(plan, catalogue_size=catalogue, options=options):
        hold = stock_hold_create(integration=integration, plan=plan, catalogue_size=catalogue)
        run.hold = hold
        return {"held_by": hold.pk, "records_opened": 0}
    opened = stock_records_open(integration=integration, skus=plan.skus)
    return {"records_opened": opened}


def stock_hold_create(*, integration: Integration, plan: Plan, catalogue_size: int) -> StockHold:
    """Hold a suspicious push and alert: a log line at ERROR, the hold in the admin, and a
    record at needs_attention in the records list (where ops look first)."""
    reason = (
        f"held: this push would zero {plan.zeroed} and cut {plan.cut} of {catalogue_size} "
        f"items in shop {integration.shop_connection.name!r} at once, which looks like a "
        "broken ERP feed. Check the ERP's stock, then release or discard the hold under "
        "Integrations > Stock holds"
    )
    with transaction.atomic():
        hold = StockHold.objects.create(
            integration=integration,
            reason=reason,
            catalogue_size=catalogue_size,
            items_zeroed=plan.zeroed,
            items_cut=plan.cut,
            skus=sorted(plan.skus),
            sample=plan.samples,
        )
        now = timezone.now()
        SyncRecord.objects.create(
            integration=integration,
            flow=FLOW,
            direction=Direction.ERP_TO_SHOP,
            source_system=integration.erp_connection.system,
            source_id=f"hold-{hold.pk}",
            reference=f"stock hold {hold.pk}",
            idempotency_key=f"stock-hold:{hold.pk}",
            status=Status.NEEDS_ATTENTION,
            context={"hold": hold.pk},
            error_class="StockHeld",
            error_message=reason,
            error_field="stock",
            error_value=f"{plan.zeroed} zeroed, {plan.cut} cut of {catalogue_size}",
            finished_at=now,
        )
    logger.error("integration %s: stock hold %s: %s", integration.slug, hold.pk, reason)
    return hold


def stock_hold_release(
    *, hold: StockHold, user: AbstractBaseUser | AnonymousUser | None = None, note: str = ""
) -> int:
    """A person says the held push is right: publish every held item (from the ERP's state
    now, not the held figures). Returns the number of records opened."""
    who = _who(user)
    with transaction.atomic():
        updated = StockHold.objects.filter(pk=hold.pk, state=StockHold.State.HELD).update(
            state=StockHold.State.RELEASED, decided_at=timezone.now(), decided_by=who, note=note
        )
        if not updated:
            raise StockActionError(f"stock hold {hold.pk} is {hold.state}; only held ones")
        _close_hold_record(hold, f"released by {who}" + (f": {note}" if note else ""))
        skus = set(hold.skus or []) | set(_pending_skus(hold.integration))
        opened = stock_records_open(integration=hold.integration, skus=sorted(skus))
    hold.refresh_from_db()
    logger.warning("stock hold %s released by %s: %s records", hold.pk, who, opened)
    return opened


def stock_hold_discard(
    *, hold: StockHold, user: AbstractBaseUser | AnonymousUser | None = None, note: str
) -> None:
    """A person says the held push is wrong: drop the plan; the next scan starts afresh."""
    note = (note or "").strip()
    if not note:
        raise StockActionError(f"stock hold {hold.pk}: a note saying why is required")
    who = _who(user)
    with transaction.atomic():
        updated = StockHold.objects.filter(pk=hold.pk, state=StockHold.State.HELD).update(
            state=StockHold.State.DISCARDED, decided_at=timezone.now(), decided_by=who, note=note
        )
        if not updated:
            raise StockActionError(f"stock hold {hold.pk} is {hold.state}; only held ones")
        PublishedStock.objects.filter(integration=hold.integration, target__isnull=False).update(
            target=None
        )
        _close_hold_record(hold, f"discarded by {who}: {note}")
    hold.refresh_from_db()


def _close_hold_record(hold: StockHold, note: str) -> None:
    now = timezone.now()
    SyncRecord.objects.filter(
        integration=hold.integration, flow=FLOW, idempotency_key=f"stock-hold:{hold.pk}"
    ).update(
        status=Status.SUCCEEDED,
        resolution_note=f"{note} at {now:%Y-%m-%d %H:%M} UTC"[:4000],
        updated_at=now,
    )


def _who(user: Any) -> str:
    return getattr(user, "get_username", lambda: "system")() if user else "system"


# ---------------------------------------------------------------- records, collapsed per item


def stock_record_key(sku: str) -> str:
    return f"stock:{sku}"


def stock_records_open(*, integration: Integration, skus: Iterable[str]) -> int:
    """One inventory record per item, created or re-opened, and queued (see
    sync_records_open_per_item: pending ones already compute from current state)."""
    return sync_records_open_per_item(
        integration=integration, item_ids=skus, flow=FLOW, key_prefix="stock"
    )


def stock_unmatched_note(
    *, integration: Integration, sku: str, erp_quantity: Decimal | None = None
) -> None:
    """Remember an ERP item the shop lacks (for the unmatched report)."""
    now = timezone.now()
    updated = StockUnmatched.objects.filter(integration=integration, sku=sku).update(
        last_seen_at=now, erp_quantity=erp_quantity
    )
    if not updated:
        StockUnmatched.objects.bulk_create(
            [
                StockUnmatched(
                    integration=integration,
                    sku=sku,
                    erp_quantity=erp_quantity,
                    first_seen_at=now,
                    last_seen_at=now,
                )
            ],
            ignore_conflicts=True,
        )


# ---------------------------------------------------------------- the scans


def _begin(integration: Integration, kind: str) -> StockRun | None:
    now = timezone.now()
    busy = StockRun.objects.filter(
        integration=integration, finished_at__isnull=True, started_at__gt=now - SCAN_STALE_AFTER
    ).exists()
    if busy:
        return None
    return StockRun.objects.create(integration=integration, kind=kind, started_at=now)


def _finish(run: StockRun, report: dict[str, Any], error: str = "") -> StockRun:
    run.report = report
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["report", "error", "finished_at", "hold"])
    return run


def stock_reconcile_full(
    *,
    integration: Integration,
    erp: ErpStock | None = None,
    shop: PrestaShopClient | None = None,
) -> StockRun | None:
    """Read every shop item and its ERP availability, fix what differs (drift included) and
    report it; None when another scan of this integration is running."""
    run = _begin(integration, StockRun.Kind.FULL)
    if run is None:
        return None
    options = InventoryOptions.of(integration)
    try:
        erp = erp or erp_stock_for(integration, options)
        shop = shop or shop_client(integration)
        now = timezone.now()
        demand = recent_order_demand(shop, integration=integration, options=options, now=now)
        plan = Plan()
        for chunk in shop_items(shop, page_size=options.page_size):
            available = erp.availability(sorted({i.sku for i in chunk}))
            plan_items(
                integration=integration,
                items=chunk,
                available=available,
                demand=demand,
                options=options,
                plan=plan,
                now=now,
                shop_quantities_known=True,
            )
        # Items that left the shop since the last reconciliation are no longer published.
        gone = PublishedStock.objects.filter(integration=integration).filter(
            Q(checked_at__lt=now) | Q(checked_at__isnull=True)
        )
        removed = gone.count()
        gone.delete()
        outcome = _publish_or_hold(integration=integration, plan=plan, options=options, run=run)
    except Exception as error:
        _finish(run, {}, error=f"{type(error).__name__}: {error}")
        raise
    report = {**plan.as_dict(), "removed_from_shop": removed, **outcome}
    logger.info("integration %s: full stock reconciliation: %s", integration.slug, report)
    return _finish(run, report)


def stock_scan_incremental(
    *,
    integration: Integration,
    erp: ErpStock | None = None,
    shop: PrestaShopClient | None = None,
) -> StockRun | None:
    """Publish what the ERP's change feed says changed since the last scan."""
    run = _begin(integration, StockRun.Kind.INCREMENTAL)
    if run is None:
        return None
    options = InventoryOptions.of(integration)
    cursor, _ = PollCursor.objects.get_or_create(integration=integration, stream=CURSOR_STREAM)
    signpost = timezone.now()
    try:
        if not cursor.value:
            cursor.value = signpost.isoformat()
            cursor.last_run_at = cursor.last_success_at = signpost
            cursor.save()
            return _finish(
                run, {"note": "first scan: cursor set; the full reconciliation publishes all"}
            )
        erp = erp or erp_stock_for(integration, options)
        shop = shop or shop_client(integration)
        since = datetime.fromisoformat(cursor.value) - CURSOR_OVERLAP
        changed = sorted(set(erp.changed_skus(since)))
        plan = Plan()
        demand = (
            recent_order_demand(shop, integration=integration, options=options, now=signpost)
            if changed
            else {}
        )
        for start in range(0, len(changed), options.page_size):
            skus = changed[start : start + options.page_size]
            known = {
                p.sku: p
                for p in PublishedStock.objects.filter(integration=integration, sku__in=skus)
            }
            items = [
                ShopItem(p.sku, p.product_id, p.combination_id, p.stock_available_id, 0)
                for p in known.values()
            ]
            for sku in skus:
                if sku in known:
                    continue
                try:
                    item = shop_locate(shop, sku) if plan.unmatched < LOCATE_LIMIT else None
                except PermanentError as error:
                    # The reference of a product with combinations: never published (the full
                    # reconciliation skips it too). One such SKU must not fail the whole scan,
                    # or the cursor never moves and no stock is published incrementally.
                    logger.warning("integration %s: stock scan: %s", integration.slug, error)
                    continue
                if item is None:
                    plan.unmatched += 1
                    stock_unmatched_note(integration=integration, sku=sku)
                    # One record that ends skipped with the reason; never re-opened for an
                    # item the shop still lacks (the key exists already).
                    _create_unmatched_record(integration, sku)
                else:
                    items.append(item)
                    PublishedStock.objects.get_or_create(
                        integration=integration,
                        sku=sku,
                        defaults={
                            "product_id": item.product_id,
                            "combination_id": item.combination_id,
                            "stock_available_id": item.stock_available_id,
                            "quantity": item.quantity,
                        },
                    )
            available = erp.availability([i.sku for i in items])
            plan_items(
                integration=integration,
                items=items,
                available=available,
                demand=demand,
                options=options,
                plan=plan,
                now=signpost,
                shop_quantities_known=False,
            )
        outcome = _publish_or_hold(integration=integration, plan=plan, options=options, run=run)
        cursor.value = signpost.isoformat()
        cursor.last_run_at = cursor.last_success_at = signpost
        cursor.last_error = ""
        cursor.save()
    except Exception as error:
        PollCursor.objects.filter(pk=cursor.pk).update(
            last_run_at=signpost, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        _finish(run, {}, error=f"{type(error).__name__}: {error}")
        raise
    report = {**plan.as_dict(), "changed": len(changed), "since": since.isoformat(), **outcome}
    logger.info("integration %s: incremental stock scan: %s", integration.slug, report)
    return _finish(run, report)


def _create_unmatched_record(integration: Integration, sku: str) -> None:
    from integrations.services.records import sync_record_enqueue

    sync_record_enqueue(
        integration=integration,
        flow=FLOW,
        source_id=sku,
        source_system=integration.erp_connection.system,
        direction=Direction.ERP_TO_SHOP,
        reference=sku,
        idempotency_key=stock_record_key(sku),
    )


def inventory_integrations(erp_connection_id: int | None = None) -> list[Integration]:
    """Every active integration publishing stock (optionally: fed by one ERP connection)."""
    candidates = Integration.objects.filter(is_active=True).select_related(
        "shop_connection", "erp_connection"
    )
    if erp_connection_id is not None:
        candidates = candidates.filter(erp_connection_id=erp_connection_id)
    return [i for i in candidates if i.flow_enabled(FLOW)]


def item_missing(sku: str, shop_name: str) -> str:
    return f"item {sku} is not in shop {shop_name}"
