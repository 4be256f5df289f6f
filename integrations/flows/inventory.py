"""The "inventory" flow: one record per (shop, item) publishes ERP availability to the shop.

Options: Integration.options["inventory"] (integrations.services.stock.InventoryOptions).
How records are keyed, collapsed and re-opened, the guard and the in-flight orders are
explained in README-stock.md beside this file.

    extract   -> where the item is in the shop; the ERP's availability now; in-flight orders
    transform -> the target quantity (availability - buffer - in flight, floor, >= 0)
    load      -> PATCH stock_availables.quantity, only when it differs from the last known
"""

import logging
import threading
import time
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django_q.tasks import async_task

from connectors.errors import NotFoundError, PermanentError, SkipRecord
from integrations.flows.base import Flow, FlowContext
from integrations.flows.registry import register
from integrations.models import Direction, Integration, PublishedStock, StockHold
from integrations.queue import broker
from integrations.services import stock as stock_services
from integrations.services.stock import (
    FLOW,
    InventoryOptions,
    ShopItem,
    item_missing,
    recent_order_demand,
    shop_locate,
    stock_unmatched_note,
    target_quantity,
)

logger = logging.getLogger(__name__)

# How long one flow instance reuses the in-flight order demand it read (seconds): a batch of
# records then costs one orders read, not one each.
DEMAND_TTL = 30.0


@register
class InventoryFlow(Flow):
    name = FLOW
    direction = Direction.ERP_TO_SHOP
    entity = "stock"

    def __init__(self, integration: Integration) -> None:
        super().__init__(integration)
        self.options = InventoryOptions.of(integration)
        self._lock = threading.Lock()
        self._shop: Any = None
        self._erp: Any = None
        self._demand: tuple[float, dict[str, int]] | None = None

    # -- clients, built once per instance (the registry reuses instances) -------------------

    @property
    def shop(self) -> Any:
        with self._lock:
            if self._shop is None:
                self._shop = stock_services.shop_client(self.integration)
            return self._shop

    @property
    def erp(self) -> Any:
        with self._lock:
            if self._erp is None:
                self._erp = stock_services.erp_stock_for(self.integration, self.options)
            return self._erp

    def demand(self) -> dict[str, int]:
        with self._lock:
            if self._demand and time.monotonic() - self._demand[0] < DEMAND_TTL:
                return self._demand[1]
        demand = recent_order_demand(self.shop, integration=self.integration, options=self.options)
        with self._lock:
            self._demand = (time.monotonic(), demand)
        return demand

    def close(self) -> None:
        for client in (self._shop, getattr(self._erp, "client", None)):
            session = getattr(client, "session", None)
            if session is not None:
                session.close()

    # -- steps --------------------------------------------------------------------------

    def extract(self, ctx: FlowContext) -> dict[str, Any]:
        hold_id = (ctx.record.context or {}).get("hold")
        if hold_id:
            return self._hold_alert(hold_id)
        sku = ctx.record.source_id
        row = PublishedStock.objects.filter(integration=self.integration, sku=sku).first()
        if row is None or not row.stock_available_id:
            item = shop_locate(self.shop, sku)
            if item is None:
                stock_unmatched_note(integration=self.integration, sku=sku)
                raise SkipRecord(
                    item_missing(sku, self.integration.shop_connection.name)
                    + "; it is listed under Integrations > Unmatched stock items and not "
                    "retried (add the reference in the shop, the next scan picks it up)"
                )
            row = _remember(self.integration, item)
        available = self.erp.availability([sku])
        if sku not in available:
            raise SkipRecord(
                f"item {sku} is not in the ERP ({self.integration.erp_connection.name}); the "
                "shop's stock is left as it is"
            )
        return {
            "sku": sku,
            "product_id": row.product_id,
            "combination_id": row.combination_id,
            "stock_available_id": row.stock_available_id,
            "known_quantity": row.quantity,
            "available": available[sku],
            "buffer": self.options.buffer,
            "in_flight": self.demand().get(sku, 0),
            "read_at": timezone.now(),
        }

    def transform(self, ctx: FlowContext, data: dict[str, Any]) -> dict[str, Any]:
        target = target_quantity(
            available=Decimal(str(data["available"])),
            buffer=int(data["buffer"]),
            in_flight=int(data["in_flight"]),
        )
        return {**data, "quantity": target}

    def validate(self, ctx: FlowContext, payload: dict[str, Any]) -> None:
        if payload["quantity"] < 0:  # target_quantity never does; a guard for hooks
            raise PermanentError(
                f"item {payload['sku']}: quantity {payload['quantity']} is negative",
                field="quantity",
                value=payload["quantity"],
            )

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        sku, quantity = payload["sku"], payload["quantity"]
        row_id = payload["stock_available_id"]
        if payload["known_quantity"] != quantity:
            try:
                self.shop.update("stock_availables", row_id, {"quantity": quantity})
            except NotFoundError:
                # The shop recreated the row (product re-saved): find it again, once.
                item = shop_locate(self.shop, sku)
                if item is None:
                    raise SkipRecord(
                        item_missing(sku, self.integration.shop_connection.name)
                    ) from None
                row_id = _remember(self.integration, item).stock_available_id
                self.shop.update("stock_availables", row_id, {"quantity": quantity})
            ctx.state["written"] = True
        else:
            ctx.state["written"] = False  # only changes are written
        now = timezone.now()
        PublishedStock.objects.filter(integration=self.integration, sku=sku).update(
            quantity=quantity,
            erp_quantity=payload["available"],
            target=None,
            published_at=now,
            checked_at=now,
        )
        return str(row_id)

    def _hold_alert(self, hold_id: int) -> dict[str, Any]:
        hold = StockHold.objects.filter(pk=hold_id).first()
        if hold is None or hold.state != StockHold.State.HELD:
            state = hold.get_state_display() if hold else "gone"
            raise SkipRecord(f"stock hold {hold_id} is {state.lower()}; nothing left to do")
        raise PermanentError(
            f"stock hold {hold_id} still waits for a person: {hold.reason}",
            field="stock_hold",
            value=hold_id,
        )


def _remember(integration: Integration, item: ShopItem) -> PublishedStock:
    row, _ = PublishedStock.objects.update_or_create(
        integration=integration,
        sku=item.sku,
        defaults={
            "product_id": item.product_id,
            "combination_id": item.combination_id,
            "stock_available_id": item.stock_available_id,
            "quantity": item.quantity,
        },
    )
    return row


# ---------------------------------------------------------------- tasks (q2 interfaces)


def inventory_scan_task() -> dict[str, Any]:
    """Schedule: queue one incremental stock scan per integration publishing stock."""
    return _fan_out("incremental")


def inventory_reconcile_task() -> dict[str, Any]:
    """Schedule: queue one full stock reconciliation per integration publishing stock."""
    return _fan_out("full")


def _fan_out(kind: str) -> dict[str, Any]:
    queued = 0
    for integration in stock_services.inventory_integrations():
        async_task(
            "integrations.flows.inventory.inventory_scan_integration_task",
            integration.pk,
            kind,
            broker=broker(),
            task_name=f"stock {kind} {integration.slug}",
        )
        queued += 1
    return {"queued": queued}


def inventory_scan_integration_task(integration_id: int, kind: str) -> dict[str, Any]:
    """One scan of one integration (idempotent: a scan already running makes this a no-op)."""
    integration = Integration.objects.select_related("shop_connection", "erp_connection").get(
        pk=integration_id
    )
    scan = (
        stock_services.stock_reconcile_full
        if kind == "full"
        else stock_services.stock_scan_incremental
    )
    run = scan(integration=integration)
    return {"run": run.pk if run else None, **(run.report if run else {"skipped": "busy"})}
