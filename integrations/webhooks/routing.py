"""Where an event goes: (source, event type) -> the flow and the record's identity. Data, not
branches. Webhooks and pollers both route through here, so the same change seen twice (a
webhook and a poll racing) yields the same idempotency key and so one record.

A per-integration EventRoute row replaces the flow for one (source, event type); a blank flow
there means the integration ignores that event type.
"""

import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.errors import DataError
from integrations.models import Direction, EventRoute, Integration
from integrations.services.records import REOPEN_FINISHED, REOPEN_SKIPPED

# The system name written on records, per webhook source.
SOURCE_SYSTEMS = {"prestashop": "prestashop", "infor": "infor_m3", "tims": "tims"}


@dataclass(frozen=True)
class Route:
    flow: str
    # Templates over the event's data (str.format fields).
    source_id: str
    key: str
    reference: str = ""
    direction: str = Direction.SHOP_TO_ERP
    # Finished statuses a new event re-opens (services.records: REOPEN_SKIPPED for orders,
    # REOPEN_FINISHED for per-item records that compute from current state).
    reopen: tuple[str, ...] = ()
    # Used instead when the event lacks a field this route's templates need.
    fallback: "Route | None" = None


@dataclass(frozen=True)
class IgnoreRoute:
    """An event type we receive on purpose and do not turn into work, with the reason."""

    reason: str


# One ERP sales order per shop order: the order flow is keyed by the shop order id alone, so
# created, updated and state-changed events (and the poller) collapse into one record.
# An order skipped for its state (payment error, cancelled) runs again on its next event.
_ORDER = Route(
    "order_to_cash",
    source_id="{id}",
    key="prestashop:{id}",
    reference="{reference}",
    reopen=REOPEN_SKIPPED,
)
# Customers: one record per shop customer (the customers flow's own key), re-opened by each
# change, so a burst of changes is one run that reads the customer as it is then.
_CUSTOMER = Route("customers", source_id="{id}", key="customer:{id}", reopen=REOPEN_FINISHED)
_ADDRESS = Route(
    "customers", source_id="{id_customer}", key="customer:{id_customer}", reopen=REOPEN_FINISHED
)
# Item master (integrations.flows.products): one record per item, keyed by the ERP sku (the
# shop product's or combination's reference), the same key the ERP scan uses, so a shop
# change and an ERP change of one item (and a webhook and a poll of one change) meet on one
# record, re-opened when finished; it reads both sides when it runs and each field goes the
# way its owner in the mapping set says. An event without a reference (an older module or
# another sender) opens a record that reads the reference and then opens the item's record
# (it never writes itself).
_PRODUCT_BY_ID = Route(
    "products",
    source_id="{resource}/{id}",
    key="prestashop:{resource}:{id}",
    direction=Direction.ERP_TO_SHOP,
    reopen=REOPEN_FINISHED,
)
_PRODUCT = Route(
    "products",
    source_id="{reference}",
    key="product:{reference}",
    reference="{reference}",
    direction=Direction.ERP_TO_SHOP,
    reopen=REOPEN_FINISHED,
    fallback=_PRODUCT_BY_ID,
)
# The products poller's name for a product whose date_upd is the one our own last write left.
_PRODUCT_ECHO = IgnoreRoute(
    "our own last write to this product coming back (its date_upd is the one that write "
    "left): nothing changed in the shop since"
)
_STOCK = IgnoreRoute(
    "the ERP's stock feed decides shop stock: the inventory scans publish ERP availability, "
    "accounting for orders placed in the shop since the ERP's snapshot"
)
# ERP notifications (ION BODs). A sales order BOD is keyed by BOD id, so ION re-sending it
# is one record. A shipment or invoice proves a state of its sales order, and is keyed as
# integrations.flows.status_back keys that transition (status_key), so the BOD and the
# status scan seeing the same change give one record.
_BOD = Route(
    "status_back",
    source_id="{document_id}",
    key="infor_m3:{bod}:{document_id}:{bod_id}",
    reference="{customer_po}",
    direction=Direction.ERP_TO_SHOP,
)
_BOD_STATE = Route(
    "status_back",
    source_id="{order_id}",
    key="infor_m3:status:{order_id}:{state}",
    reference="{customer_po}",
    direction=Direction.ERP_TO_SHOP,
)
# TIMS publishes no events; its pollers emit these types (see integrations.pollers).
_TIMS_STATUS = Route(
    "status_back",
    source_id="{id}",
    key="tims:{resource}:{id}@{date_upd}",
    reference="{reference}",
    direction=Direction.ERP_TO_SHOP,
)

DEFAULT_ROUTES: dict[tuple[str, str], Route | IgnoreRoute] = {
    ("prestashop", "order.created"): _ORDER,
    ("prestashop", "order.updated"): _ORDER,
    ("prestashop", "order.status_changed"): _ORDER,
    ("prestashop", "customer.created"): _CUSTOMER,
    ("prestashop", "customer.updated"): _CUSTOMER,
    ("prestashop", "address.created"): _ADDRESS,
    ("prestashop", "product.created"): _PRODUCT,
    ("prestashop", "product.updated"): _PRODUCT,
    ("prestashop", "combination.created"): _PRODUCT,
    ("prestashop", "combination.updated"): _PRODUCT,
    ("prestashop", "product.echo"): _PRODUCT_ECHO,
    ("prestashop", "stock.updated"): _STOCK,
    ("infor", "SyncSalesOrder"): _BOD,
    ("infor", "SyncShipment"): _BOD_STATE,
    ("infor", "SyncInvoice"): _BOD_STATE,
    ("tims", "order.status_changed"): _TIMS_STATUS,
    ("tims", "shipment.created"): _TIMS_STATUS,
    ("tims", "invoice.created"): _TIMS_STATUS,
}


@dataclass(frozen=True)
class RecordSpec:
    """The arguments of sync_record_enqueue for one event."""

    flow: str
    source_system: str
    source_id: str
    idempotency_key: str
    reference: str
    direction: str
    reopen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ignored:
    reason: str


Overrides = dict[tuple[int, str, str], str]


def overrides_for(integration_ids: Iterable[int]) -> Overrides:
    """Every EventRoute row of these integrations, in one query."""
    rows = EventRoute.objects.filter(integration_id__in=set(integration_ids)).values_list(
        "integration_id", "source", "event_type", "flow"
    )
    return {(i, s, t): f for i, s, t, f in rows}


def route_event(
    *,
    integration: Integration,
    source: str,
    event_type: str,
    data: dict[str, Any],
    overrides: Overrides,
) -> RecordSpec | Ignored:
    """The record an event becomes, or why it becomes none. Raises DataError when the event
    lacks a field its route needs."""
    default = DEFAULT_ROUTES.get((source, event_type))
    override = overrides.get((integration.pk, source, event_type))
    if default is None and override is None:
        return Ignored(
            f"no route for {source} event {event_type!r}; add one under Integrations > "
            "Event routes if it matters"
        )
    if override is None and isinstance(default, IgnoreRoute):
        return Ignored(f"{source} event {event_type!r} is not turned into work: {default.reason}")
    flow = override if override is not None else default.flow
    if not flow:
        return Ignored(f"{source} event {event_type!r} is ignored by this integration's routes")
    if not integration.flow_enabled(flow):
        return Ignored(f"flow {flow!r} is not enabled for integration {integration.slug!r}")
    route = (
        default
        if isinstance(default, Route)
        else Route(flow, source_id="{id}", key=source + ":" + event_type + ":{id}")
    )
    values = _Fields(event_type=event_type, source=source, data=data)
    if route.fallback is not None and not values.has_all(route.key, route.source_id):
        route = route.fallback
    return RecordSpec(
        flow=flow,
        source_system=SOURCE_SYSTEMS[source],
        source_id=values.render(route.source_id, "source id")[:100],
        idempotency_key=values.render(route.key, "idempotency key")[:255],
        reference=values.render(route.reference, "reference", required=False)[:100],
        direction=route.direction,
        reopen=route.reopen,
    )


class _Fields:
    def __init__(self, *, event_type: str, source: str, data: dict[str, Any]) -> None:
        self.event_type = event_type
        self.source = source
        self.data = data

    def has_all(self, *templates: str) -> bool:
        return all(
            self.data.get(name) not in (None, "")
            for template in templates
            for _literal, name, _spec, _conv in string.Formatter().parse(template)
            if name is not None
        )

    def render(self, template: str, what: str, *, required: bool = True) -> str:
        parts = []
        for literal, name, _spec, _conv in string.Formatter().parse(template):
            parts.append(literal)
            if name is None:
                continue
            value = self.data.get(name)
            if value in (None, ""):
                if not required:
                    continue
                raise DataError(
                    f"{self.source} event {self.event_type!r} has no {name!r}, which its "
                    f"{what} needs; fields present: {', '.join(sorted(self.data)) or 'none'}",
                    field=f"data.{name}",
                    value=None,
                )
            parts.append(str(value))
        return "".join(parts)
