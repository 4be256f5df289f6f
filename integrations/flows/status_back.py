"""Order to cash, back: what the ERP did with a linked order goes back to the shop.

One record per (ERP order, new ERP state): `status_back_scan` (and the ERP pollers registered
below) read the ERP state of linked orders and enqueue one record per transition, keyed by
the state, so each transition is one record however often it is seen.

    extract    the link, then the ERP's current picture: state, deliveries, invoices, payment
    transform  what the shop should show: order state (through the state map), tracking and
               carrier, invoices, payments
    load       written to PrestaShop only where it differs: the shop's current state is read
               first (one order_histories row per real transition, none on a retry, never
               backwards), the tracking number compared, payments found by transaction id
    reconcile  the link's data: ERP state, shop state, invoices (number, date, amounts),
               payments recorded

Each record applies the ERP's picture as it is when the record runs, so states skipped
between two scans (processing -> paid) still bring tracking, invoice and payment.

Flow options (Integration.options["status_back"]), all optional:

    states           {ERP state: shop order state id}; ERP states are processing, shipped,
                     invoiced, paid, cancelled (default DEFAULT_STATE_MAP)
    state_value_map  a value map (Mappings > Value maps) used instead of `states`
    carriers         {ERP carrier / delivery method: shop id_carrier}, written with tracking
    record_payments  "unpaid" (default: only while the shop's payments do not cover the ERP
                     payment, so a prepaid order is not paid twice), "always" or "never"
"""

from decimal import Decimal
from typing import Any

from django.db import transaction

from connectors.canonical import Invoice, OrderState, Payment, Shipment
from connectors.errors import PermanentError, SkipRecord, TransientError
from connectors.models import System
from connectors.prestashop.client import filter_equals
from connectors.prestashop.translate import payment_from_wire
from integrations.flows.base import FlowContext
from integrations.flows.clients import ShopErpFlow
from integrations.flows.erp import (
    ERP_STATES,
    FINAL_STATES,
    ErpOrderStatus,
    erp_adapter,
    state_rank,
)
from integrations.flows.registry import register
from integrations.models import Direction, Integration, Link, Status, SyncRecord
from integrations.pollers.base import Change, Poller
from integrations.pollers.registry import register as register_poller
from integrations.services.records import sync_record_enqueue
from mappings.serialization import value_tables

NAME = "status_back"
# ERP state -> PrestaShop order state id (a fresh install's ids; override per integration).
DEFAULT_STATE_MAP = {"processing": "3", "shipped": "4", "cancelled": "6"}
# Where a shop state stands in the life of an order: never move an order backwards.
SHOP_RANK = {
    OrderState.NEW: 0,
    OrderState.PAYMENT_ERROR: 0,
    OrderState.PAID: 1,
    OrderState.ON_HOLD: 1,
    OrderState.PROCESSING: 2,
    OrderState.SHIPPED: 3,
    OrderState.DELIVERED: 4,
    OrderState.INVOICED: 4,
}
# Shop states after which the ERP may not change the order's state any more.
SHOP_CLOSED = frozenset({OrderState.CANCELLED, OrderState.REFUNDED})
# Seconds a record waits while another status record of the same order runs.
SIBLING_RETRY_AFTER = 2.0


def status_key(system: str, erp_id: str, state: str) -> str:
    """The record key of one transition; the same the ERP event routes build
    (integrations.webhooks.routing), so a poll and this scan give one record."""
    if system == System.TIMS:
        return f"tims:order:{erp_id}@{state}"
    return f"{system}:status:{erp_id}:{state}"


@register
class StatusBackFlow(ShopErpFlow):
    name = NAME
    direction = Direction.ERP_TO_SHOP
    entity = "order"

    def options(self) -> dict[str, Any]:
        return self.integration.flow_options(NAME)

    def state_map(self) -> dict[str, str]:
        options = self.options()
        name = options.get("state_value_map")
        if name:
            table = value_tables({name}).get(name)
            if table is None:
                raise PermanentError(
                    f"flow option status_back.state_value_map names value map {name!r}, "
                    "which does not exist; add it under Mappings > Value maps",
                    field="options.status_back.state_value_map",
                    value=name,
                )
            return {s: v for s in (*ERP_STATES, "cancelled") if (v := table.lookup(s))}
        return {str(k): str(v) for k, v in (options.get("states") or DEFAULT_STATE_MAP).items()}

    # -- extract -----------------------------------------------------------------------

    def extract(self, ctx: FlowContext) -> dict[str, Any]:
        record = ctx.record
        erp_id = record.source_id
        link = Link.objects.filter(
            integration=self.integration, entity="order", erp_id=erp_id
        ).first()
        if link is None:
            raise SkipRecord(
                f"ERP order {erp_id} is not linked to a shop order (not created from the "
                "shop, or its order_to_cash record has not finished); nothing to send back"
            )
        running = (
            SyncRecord.objects.filter(
                integration=self.integration, flow=NAME, source_id=erp_id, status=Status.RUNNING
            )
            .exclude(pk=record.pk)
            .exists()
        )
        if running:
            # Two transitions of one order at once could both post the same shop state.
            raise TransientError(
                f"another status update of ERP order {erp_id} is running; this one follows",
                retry_after=SIBLING_RETRY_AFTER,
            )
        status = self.erp.order_status(erp_id, link_data=link.data or {})
        return {
            "erp_order": erp_id,
            "shop_order_id": link.shop_id,
            "reference": (link.data or {}).get("reference") or record.reference,
            "state": status.state,
            "shipments": [s.model_dump(mode="json") for s in status.shipments],
            "invoices": [i.model_dump(mode="json") for i in status.invoices],
            "payments": [p.model_dump(mode="json") for p in status.payments],
        }

    # -- transform ---------------------------------------------------------------------

    def transform(self, ctx: FlowContext, data: dict[str, Any]) -> dict[str, Any]:
        status = ErpOrderStatus(
            state=data["state"],
            shipments=[Shipment.model_validate(s) for s in data["shipments"]],
            invoices=[Invoice.model_validate(i) for i in data["invoices"]],
            payments=[Payment.model_validate(p) for p in data["payments"]],
        )
        mapping = self.state_map()
        target = ""
        if status.state == "cancelled":
            target = mapping.get("cancelled", "")
        else:
            for state in ERP_STATES[: state_rank(status.state) + 1]:
                target = mapping.get(state, target)
        tracking = next((s for s in reversed(status.shipments) if s.tracking_number), None)
        carriers = {str(k): str(v) for k, v in (self.options().get("carriers") or {}).items()}
        return {
            "shop_order_id": data["shop_order_id"],
            "reference": data["reference"],
            "erp_order": data["erp_order"],
            "erp_state": status.state,
            "shop_state": target,
            "tracking": (
                {
                    "number": tracking.tracking_number,
                    "carrier": tracking.carrier,
                    "id_carrier": carriers.get(tracking.carrier, ""),
                }
                if tracking
                else None
            ),
            "invoices": [
                {
                    "number": i.number,
                    "date": i.issued_at.date().isoformat(),
                    "currency": i.currency,
                    "total_tax_excl": str(i.total_tax_excl),
                    "total_tax": str(i.total_tax),
                    "total_fees": str(i.total_fees),
                    "total": str(i.total),
                }
                for i in status.invoices
            ],
            "payments": [
                {
                    "id": p.id,
                    "amount": str(p.amount),
                    "currency": p.currency,
                    "method": p.method or "ERP",
                    "transaction_id": p.transaction_id or f"{self.erp.system}:{p.id}",
                    "paid_at": p.paid_at.isoformat(),
                }
                for p in status.payments
            ],
        }

    # -- load --------------------------------------------------------------------------

    def load(self, ctx: FlowContext, plan: dict[str, Any]) -> str:
        shop = self.shop
        order_id = plan["shop_order_id"]
        done: list[str] = []
        if plan["tracking"] and self._set_tracking(order_id, plan["tracking"]):
            done.append(f"tracking {plan['tracking']['number']}")
        current = shop.get("orders", order_id, display="[id,current_state]")
        current_state = str(current.get("current_state") or "")
        target = plan["shop_state"]
        if target and target != current_state:
            now = shop.order_states.get(int(current_state or 0))
            wanted = shop.order_states.get(int(target))
            if now in SHOP_CLOSED:
                ctx.state["state_note"] = f"shop order is {now}; its state is left alone"
            elif SHOP_RANK.get(now, -1) >= SHOP_RANK.get(wanted, 99):
                ctx.state["state_note"] = (
                    f"shop state {current_state} ({now}) is already at or past {target}"
                )
            elif shop.change_order_state(order_id, target) is not None:
                done.append(f"state {current_state} -> {target}")
        recorded = self._record_payments(plan)
        done += [f"payment {t}" for t in recorded]
        done += self._post_shop_payments(ctx, plan)
        ctx.state["applied"] = done
        return f"{order_id}@{plan['erp_state']}"

    def _set_tracking(self, order_id: str, tracking: dict[str, str]) -> bool:
        shop = self.shop
        rows = shop.list_records("order_carriers", filters={"id_order": filter_equals(order_id)})
        if not rows:
            raise PermanentError(
                f"shop order {order_id} has no order_carriers row for tracking number "
                f"{tracking['number']!r}; choose a carrier on the order in the shop, then retry",
                field="order_carriers.id_order",
                value=order_id,
            )
        row = max(rows, key=lambda r: int(r.get("id") or 0))
        changes: dict[str, Any] = {}
        if str(row.get("tracking_number") or "") != tracking["number"]:
            changes["tracking_number"] = tracking["number"]
        if tracking.get("id_carrier") and str(row.get("id_carrier")) != tracking["id_carrier"]:
            changes["id_carrier"] = tracking["id_carrier"]
        if not changes:
            return False
        if set(changes) == {"tracking_number"}:
            shop.set_tracking_number(order_id, tracking["number"])
        else:
            shop.update("order_carriers", row["id"], changes, params={"sendemail": 1})
        return True

    def _record_payments(self, plan: dict[str, Any]) -> list[str]:
        policy = str(self.options().get("record_payments") or "unpaid")
        if policy == "never" or not plan["payments"]:
            return []
        shop = self.shop
        existing = shop.payments_of(plan["reference"])
        seen = {str(r.get("transaction_id") or "") for r in existing}
        paid = sum((Decimal(str(r.get("amount") or 0)) for r in existing), Decimal(0))
        recorded = []
        for payment in plan["payments"]:
            if payment["transaction_id"] in seen:
                continue
            amount = Decimal(payment["amount"])
            if policy == "unpaid" and paid >= amount:
                continue
            shop.record_payment(
                Payment(
                    id=payment["id"],
                    order_reference=plan["reference"],
                    amount=amount,
                    currency=payment["currency"],
                    method=payment["method"],
                    transaction_id=payment["transaction_id"],
                    paid_at=payment["paid_at"],
                )
            )
            paid += amount
            recorded.append(payment["transaction_id"])
        return recorded

    def _post_shop_payments(self, ctx: FlowContext, plan: dict[str, Any]) -> list[str]:
        """The shop's own payments recorded in the ERP, so finance sees paid and unpaid in one
        place. Payments that came from the ERP (written by _record_payments) are not sent back;
        each shop payment is posted once (remembered on the link, and idempotent in the ERP).
        """
        if str(self.options().get("shop_payments_to_erp", "yes")).lower() in ("no", "false"):
            return []
        link = Link.objects.filter(
            integration=self.integration, entity="order", erp_id=ctx.record.source_id
        ).first()
        if link is None:
            return []
        posted = dict((link.data or {}).get("shop_payments_posted") or {})
        from_erp = {str(p["transaction_id"]) for p in plan["payments"]}
        done = []
        for row in self.shop.payments_of(plan["reference"]):
            payment_id = str(row.get("id") or "")
            transaction_id = str(row.get("transaction_id") or "")
            if (
                not payment_id
                or payment_id in posted
                or (transaction_id and transaction_id in from_erp)
            ):
                continue
            result = self.erp.payment_post(
                erp_id=ctx.record.source_id,
                state=plan["erp_state"],
                payment=payment_from_wire(row, self.shop.context()),
                link_data=link.data or {},
            )
            if result.waiting:
                ctx.state["shop_payments_note"] = result.waiting
                continue
            posted[payment_id] = result.reference
            done.append(f"shop payment {payment_id} -> {result.reference}")
        if done:
            with transaction.atomic():
                locked = Link.objects.select_for_update().get(pk=link.pk)
                data = dict(locked.data or {})
                data["shop_payments_posted"] = {
                    **(data.get("shop_payments_posted") or {}),
                    **posted,
                }
                locked.data = data
                locked.save(update_fields=["data", "updated_at"])
        return done

    # -- reconcile ---------------------------------------------------------------------

    def reconcile(self, ctx: FlowContext, target_id: str) -> None:
        plan = ctx.record.payload_out or {}
        with transaction.atomic():
            link = (
                Link.objects.select_for_update()
                .filter(integration=self.integration, entity="order", erp_id=ctx.record.source_id)
                .first()
            )
            if link is None:
                return
            data = dict(link.data or {})
            if state_rank(plan.get("erp_state", "")) >= state_rank(data.get("erp_state", "")) or (
                plan.get("erp_state") == "cancelled"
            ):
                data["erp_state"] = plan.get("erp_state", "")
            if plan.get("shop_state"):
                data["shop_state"] = plan["shop_state"]
            if plan.get("tracking"):
                data["tracking"] = plan["tracking"]
            if plan.get("invoices"):
                data["invoices"] = plan["invoices"]
            if plan.get("payments"):
                data["payments"] = plan["payments"]
            link.data = data
            link.save(update_fields=["data", "updated_at"])
        ctx.state["invoices"] = plan.get("invoices") or []


# ---------------------------------------------------------------- finding transitions


def open_order_links(integration: Integration) -> dict[str, dict[str, Any]]:
    """Linked orders whose ERP life is not over: {ERP order number: link data}."""
    rows = Link.objects.filter(integration=integration, entity="order").values_list(
        "erp_id", "data"
    )
    return {
        erp_id: data or {}
        for erp_id, data in rows
        if (data or {}).get("erp_state") not in FINAL_STATES
    }


def status_transitions(integration: Integration) -> list[tuple[str, str, str]]:
    """(ERP order, new state, shop reference) for every linked order whose ERP state moved
    past what the shop was last given."""
    links = open_order_links(integration)
    if not links:
        return []
    adapter = erp_adapter(integration)
    try:
        states = adapter.order_states(links)
    finally:
        adapter.close()
    moved = []
    for erp_id, state in states.items():
        data = links[erp_id]
        if state == data.get("erp_state"):
            continue
        if state != "cancelled" and state_rank(state) < state_rank(data.get("erp_state", "")):
            continue
        moved.append((erp_id, state, str(data.get("reference") or "")))
    return moved


def status_back_scan(integration: Integration, *, enqueue: bool = True) -> dict[str, int]:
    """Enqueue one status_back record per linked order whose ERP state changed. Idempotent:
    the key includes the state, so a transition seen twice is one record."""
    if not integration.flow_enabled(NAME):
        return {"checked": 0, "created": 0, "existing": 0}
    system = integration.erp_connection.system
    created = existing = 0
    moved = status_transitions(integration)
    for erp_id, state, reference in moved:
        outcome = sync_record_enqueue(
            integration=integration,
            flow=NAME,
            source_system=system,
            source_id=erp_id,
            direction=Direction.ERP_TO_SHOP,
            reference=reference,
            payload={"state": state},
            idempotency_key=status_key(system, erp_id, state),
            enqueue=enqueue,
        )
        created += outcome.created
        existing += not outcome.created
    return {"checked": len(moved), "created": created, "existing": existing}


class _StatusPoller(Poller):
    """The same scan as a poller stream (integrations.pollers), routed like ERP events."""

    flow = NAME

    def fetch(self, since: str | None):
        for erp_id, state, reference in status_transitions(self.integration):
            yield self.change(erp_id, state, reference)


@register_poller(System.INFOR_M3, "infor_m3.order_status")
class M3StatusPoller(_StatusPoller):
    stream = "infor_m3.order_status"
    source = "infor"

    def change(self, erp_id: str, state: str, reference: str) -> Change:
        # Routed as ("infor", "SyncSalesOrder"): key infor_m3:status:<order>:<state>.
        data = {"id": erp_id, "bod": "status", "document_id": erp_id, "bod_id": state}
        return Change("SyncSalesOrder", {**data, "customer_po": reference})


@register_poller(System.TIMS, "tims.order_status")
class TimsStatusPoller(_StatusPoller):
    stream = "tims.order_status"
    source = "tims"

    def change(self, erp_id: str, state: str, reference: str) -> Change:
        # Routed as ("tims", "order.status_changed"): key tims:order:<order>@<state>.
        data = {"resource": "order", "id": erp_id, "date_upd": state, "reference": reference}
        return Change("order.status_changed", data)
