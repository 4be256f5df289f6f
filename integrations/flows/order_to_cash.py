"""Order to cash, forward: one shop order becomes exactly one ERP sales order.

    extract    the order read fresh from the shop (never the stored payload); skip rules
    transform  items resolved, customer found or created, stock checked, mappings applied
    validate   the payload carries the natural key and every line
    load       the ERP looks the order up by its natural key first; found -> linked, else made
    reconcile  Link (entity "order") shop order id <-> ERP order number

Exactly once: the natural key is the shop reference (M3 CUOR, TIMS customer_po); the ERP
adapters find an existing order by it before creating (M3 resumes a half-made batch order).
The pipeline commits the ERP number before reconcile, so a crash after the ERP's "created"
is found again by that look-up, never created twice.

Flow options (Integration.options["order_to_cash"]), all optional:

    skip_states            shop states never exported: state ids or canonical names
                           (default ["payment_error", "cancelled"])
    item_resolution        how a line finds its ERP item, in order: "link" (Links, entity
                           "variant" shop id "<product>:<combination>" or "product"),
                           "reference" (the shop reference), "ean" (default all three)
    item_value_map         a value map translating shop references / EANs to ERP items
    verify_items           check a non-linked item exists in the ERP (default true)
    inventory_check        check availability at order time (default true)
    backorder              what the ERP cannot fill: "create" (default; TIMS
                           override_backorder) or "hold" (needs attention for review)
    customer_match_fields  details that must agree when the ERP has the e-mail already
                           (default ["name", "postcode", "country"]; [] = link by e-mail)
    split_orders           orders split from one cart share a reference: the later ones get
                           "<reference>-<order id>" as natural key (default true)
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.canonical import Order
from connectors.errors import DataError, PermanentError, SkipRecord, TransientError
from connectors.prestashop.client import filter_equals
from integrations.anomalies import AnomalyOptions, anomalies_check
from integrations.flows.base import FlowContext
from integrations.flows.clients import ShopErpFlow
from integrations.flows.registry import register
from integrations.models import Link
from integrations.services import customers
from integrations.services.links import link_bind, link_to_erp
from mappings.engine import active_mapping, map_document, map_lines
from mappings.serialization import value_tables

NAME = "order_to_cash"
DEFAULT_SKIP_STATES = ("payment_error", "cancelled")
ITEM_STRATEGIES = ("link", "reference", "ean")
BACKORDER_RULES = ("create", "hold")
# Placeholder for the ERP order number the line mapping asks for (M3's ORNO): the real one
# exists only once the head is created, and the connector fills it in.
PENDING_ORDER_NUMBER = "0"


@dataclass(frozen=True)
class OrderOptions:
    skip_states: frozenset[str]
    item_resolution: tuple[str, ...]
    item_value_map: str
    verify_items: bool
    inventory_check: bool
    backorder: str
    customer_match_fields: tuple[str, ...]
    split_orders: bool

    @classmethod
    def of(cls, raw: dict[str, Any]) -> "OrderOptions":
        strategies = tuple(raw.get("item_resolution") or ITEM_STRATEGIES)
        unknown = [s for s in strategies if s not in ITEM_STRATEGIES]
        if unknown:
            raise PermanentError(
                f"flow option order_to_cash.item_resolution has {unknown[0]!r}; use "
                + ", ".join(ITEM_STRATEGIES),
                field="options.order_to_cash.item_resolution",
                value=unknown[0],
            )
        backorder = str(raw.get("backorder") or "create")
        if backorder not in BACKORDER_RULES:
            raise PermanentError(
                f"flow option order_to_cash.backorder is {backorder!r}; use create or hold",
                field="options.order_to_cash.backorder",
                value=backorder,
            )
        match = raw.get("customer_match_fields")
        return cls(
            skip_states=frozenset(str(s) for s in raw.get("skip_states", DEFAULT_SKIP_STATES)),
            item_resolution=strategies,
            item_value_map=str(raw.get("item_value_map") or ""),
            verify_items=bool(raw.get("verify_items", True)),
            inventory_check=bool(raw.get("inventory_check", True)),
            backorder=backorder,
            customer_match_fields=tuple(customers.DEFAULT_MATCH_FIELDS if match is None else match),
            split_orders=bool(raw.get("split_orders", True)),
        )


@register
class OrderToCashFlow(ShopErpFlow):
    name = NAME
    entity = "order"

    def options(self) -> OrderOptions:
        return OrderOptions.of(self.integration.flow_options(NAME))

    # -- extract -----------------------------------------------------------------------

    def extract(self, ctx: FlowContext) -> Order:
        order = self.shop.order_document(ctx.record.source_id)
        options = self.options()
        canonical = order.canonical_state.value if order.canonical_state else ""
        if order.state in options.skip_states or canonical in options.skip_states:
            raise SkipRecord(
                f"order {order.reference} is in shop state {order.state} "
                f"({canonical or 'unmapped'}), which is never exported (flow option "
                "order_to_cash.skip_states); retry the record once the order's state changes"
            )
        ctx.state["natural_key"] = self._natural_key(order, options)
        return order

    def _natural_key(self, order: Order, options: OrderOptions) -> str:
        key = order.reference.strip().upper()
        if not options.split_orders:
            return key
        # Orders split from one cart share the reference (PaymentModule::validateOrder): the
        # first keeps it, the others add their id, so each gets its own ERP order.
        siblings = self.shop.list_records(
            "orders", filters={"reference": filter_equals(order.reference)}, display="[id]"
        )
        ids = sorted(int(row["id"]) for row in siblings if str(row.get("id", "")).isdigit())
        if ids and int(order.id) != ids[0]:
            return f"{key}-{order.id}"
        return key

    # -- transform ---------------------------------------------------------------------

    def transform(self, ctx: FlowContext, order: Order) -> dict[str, Any]:
        options = self.options()
        erp = self.erp
        items = self.resolve_items(ctx, order, options)
        customer_number = self.resolve_customer(ctx, order, options)
        natural_key = ctx.state["natural_key"]

        document = order.model_dump(mode="json")
        for line in document["lines"]:
            line["shop_sku"] = line["sku"]
            line["sku"] = items[str(line["line_number"])]
        context = {
            "customer_number": customer_number,
            "customer_code": customer_number,
            "order_number": PENDING_ORDER_NUMBER,
            "natural_key": natural_key,
            "base_currency": self.integration.base_currency,
        }
        head_set = active_mapping(
            integration_id=self.integration.pk, entity="order_header", target_system=erp.system
        )
        line_set = active_mapping(
            integration_id=self.integration.pk, entity="order_line", target_system=erp.system
        )
        head = map_document(head_set, document, context=context)
        lines = map_lines(line_set, document, context=context)

        backorder = self.check_inventory(ctx, order, head, lines, options)
        ctx.checkpoint(customer_number=customer_number, items=items)
        payload = erp.order_payload(
            order, head=head, lines=lines, natural_key=natural_key, backorder=backorder
        )
        return payload

    # items

    def resolve_items(self, ctx: FlowContext, order: Order, options: OrderOptions) -> dict:
        links: dict[tuple[str, str], str] = {}
        if "link" in options.item_resolution:
            keys = {f"{line.product_id}:{line.variant_id or 0}" for line in order.lines}
            keys |= {str(line.product_id) for line in order.lines}
            links = {
                (entity, shop_id): erp_id
                for entity, shop_id, erp_id in Link.objects.filter(
                    integration=self.integration,
                    entity__in=("variant", "product"),
                    shop_id__in=keys,
                ).values_list("entity", "shop_id", "erp_id")
            }
        table = None
        if options.item_value_map:
            table = value_tables({options.item_value_map}).get(options.item_value_map)
            if table is None:
                raise PermanentError(
                    f"flow option order_to_cash.item_value_map names value map "
                    f"{options.item_value_map!r}, which does not exist; add it under "
                    "Mappings > Value maps",
                    field="options.order_to_cash.item_value_map",
                    value=options.item_value_map,
                )
        items: dict[str, str] = {}
        for line in order.lines:
            number = str(line.line_number)
            tried: list[str] = []
            found = ""
            for strategy in options.item_resolution:
                if strategy == "link":
                    variant = f"{line.product_id}:{line.variant_id or 0}"
                    found = links.get(("variant", variant), "")
                    if not found and str(line.variant_id or "0") in ("0", ""):
                        found = links.get(("product", str(line.product_id)), "")
                    tried.append(f"link variant {variant}")
                    if found:
                        break
                    continue
                value = line.sku if strategy == "reference" else line.ean
                if not value:
                    continue
                candidate = (table.lookup(value) if table else None) or value
                tried.append(
                    f"{strategy} {value!r}" + (f" -> {candidate!r}" if candidate != value else "")
                )
                if not options.verify_items or self.erp.item_exists(candidate):
                    found = candidate
                    break
            if not found:
                ctx.state["unknown_item"] = {
                    "line": line.line_number,
                    "sku": line.sku,
                    "ean": line.ean,
                    "name": line.name,
                    "product_id": line.product_id,
                    "variant_id": line.variant_id,
                    "tried": tried,
                }
                raise DataError(
                    f"line {line.line_number} sku {line.sku!r} ({line.name}): no ERP item "
                    f"found (tried: {', '.join(tried) or 'nothing'}). Resolution: create the "
                    "item in the ERP, link it under Links (entity 'variant', shop id "
                    f"'{line.product_id}:{line.variant_id or 0}'), or map the reference in "
                    f"value map {options.item_value_map or '(set option item_value_map)'}; "
                    "then retry",
                    field=f"lines.{line.line_number}.sku",
                    value=line.sku,
                )
            items[number] = found
        ctx.state.pop("unknown_item", None)
        return items

    # customer

    def resolve_customer(self, ctx: FlowContext, order: Order, options: OrderOptions) -> str:
        email = str(order.customer.email)
        key = customers.customer_key(email)
        linked = link_to_erp(integration=self.integration, entity=customers.ENTITY, shop_id=key)
        if linked:
            ctx.state.pop(customers.CONFLICT_KEY, None)
            return linked
        erp = self.erp
        found = erp.customer_find(email)
        if found is None:
            with customers.customer_create_lock(
                integration=self.integration, key=key, record=ctx.record
            ):
                # Looked again under the lock: the order that held it may have linked it.
                linked = link_to_erp(
                    integration=self.integration, entity=customers.ENTITY, shop_id=key
                )
                if linked:
                    return linked
                payload = customers.customer_payload(
                    integration=self.integration, order=order, target_system=erp.system
                )
                number = erp.customer_create(
                    payload,
                    idempotency_key=f"shopsync-{self.integration.pk}-customer-{key}",
                )
                link_bind(
                    integration=self.integration,
                    entity=customers.ENTITY,
                    shop_id=key,
                    erp_id=number,
                    record=ctx.record,
                    data={"email": email, "created": True},
                )
                ctx.state["customer_created"] = number
                return number
        shop = customers.shop_details(order)
        diff = customers.customer_diff(shop, found.as_dict(), options.customer_match_fields)
        if diff and customers.customer_being_created(
            integration=self.integration, key=key, record=ctx.record
        ):
            # Race: another order of this customer has just created it and not linked it yet.
            raise TransientError(
                f"the ERP customer for {email} is being created by another order; this order "
                "follows once it is linked",
                retry_after=customers.LOCK_RETRY_AFTER,
            )
        if diff:
            linked = link_to_erp(integration=self.integration, entity=customers.ENTITY, shop_id=key)
            if linked:  # linked meanwhile by the order that created it
                return linked
            ctx.state[customers.CONFLICT_KEY] = {
                "email": email,
                "erp_customer": found.as_dict(),
                "shop_customer": shop,
                "diff": diff,
                "actions": ["link to existing", "update ERP customer", "create new customer"],
            }
            first = diff[0]
            others = f" (and {len(diff) - 1} more)" if len(diff) > 1 else ""
            raise PermanentError(
                f"customer {email}: the ERP already has customer {found.number} with this "
                f"e-mail but another {first['field']}: shop {first['shop']!r}, ERP "
                f"{first['erp']!r}{others}. Resolution: on this record choose 'Customer "
                "conflict: link to the existing ERP customer', '…: update the ERP customer' "
                "or '…: create a new ERP customer'",
                field=f"customer.{first['field']}",
                value=first["shop"],
            )
        link_bind(
            integration=self.integration,
            entity=customers.ENTITY,
            shop_id=key,
            erp_id=found.number,
            record=ctx.record,
            data={"email": email, "created": False},
        )
        return found.number

    # stock

    def check_inventory(
        self,
        ctx: FlowContext,
        order: Order,
        head: dict[str, Any],
        lines: list[dict[str, Any]],
        options: OrderOptions,
    ) -> bool:
        """True when the order goes in with a backorder. Decided once: a retry after the
        order was created must not be held by the stock that order itself took."""
        decided = ctx.state.get("inventory") or {}
        if decided.get("decision") in ("ok", "backorder", "skipped"):
            return decided["decision"] == "backorder"
        if not options.inventory_check:
            ctx.state["inventory"] = {"decision": "skipped", "rule": options.backorder}
            return False
        erp = self.erp
        default_warehouse = (
            str(head.get(erp.head_warehouse_field) or "") if erp.head_warehouse_field else ""
        )
        wanted: dict[tuple[str, str], Decimal] = {}
        where: dict[tuple[str, str], list[int]] = {}
        for number, line in enumerate(lines, start=1):
            item = str(line.get(erp.line_item_field) or "")
            warehouse = str(
                (line.get(erp.line_warehouse_field) if erp.line_warehouse_field else "")
                or default_warehouse
            )
            key = (item, warehouse)
            wanted[key] = wanted.get(key, Decimal(0)) + Decimal(
                str(line.get(erp.line_quantity_field) or 0)
            )
            where.setdefault(key, []).append(number)
        available = erp.availability(list(wanted))
        short = []
        for key, quantity in wanted.items():
            have = available.get(key)
            if have is None or have < quantity:
                short.append(
                    {
                        "lines": where[key],
                        "item": key[0],
                        "warehouse": key[1],
                        "ordered": str(quantity),
                        "available": "none" if have is None else str(have),
                    }
                )
        approved = bool(ctx.state.get("backorder_approved"))
        if not short:
            decision = "ok"
        elif options.backorder == "create" or approved:
            decision = "backorder"
        else:
            decision = "hold"
        ctx.state["inventory"] = {
            "decision": decision,
            "rule": options.backorder,
            "approved": approved,
            "short": short,
        }
        if decision == "hold":
            first = short[0]
            raise PermanentError(
                f"line {first['lines'][0]} item {first['item']}: {first['ordered']} ordered, "
                f"{first['available']} available in warehouse {first['warehouse'] or 'any'}"
                + (f" (and {len(short) - 1} more short lines)" if len(short) > 1 else "")
                + "; held for review (flow option backorder = hold). Resolution: 'Approve "
                "backorder and retry' on this record, or retry once stock has arrived",
                field=f"lines.{first['lines'][0]}.quantity",
                value=first["ordered"],
            )
        return decision == "backorder"

    # -- validate, load, reconcile ---------------------------------------------------------

    def validate(self, ctx: FlowContext, payload: dict[str, Any]) -> None:
        erp = self.erp
        head = payload.get("head", payload)
        if not head.get(erp.key_field):
            raise DataError(
                f"the ERP order has no {erp.key_field}: the natural key exactly-once relies on",
                field=erp.key_field,
                value=head.get(erp.key_field),
            )
        if not payload.get("lines"):
            raise DataError("the ERP order has no lines", field="lines", value=0)
        # Anomaly holds (off unless the integration enables them): an order far outside the
        # shop's history, a price far from the ERP's, or a duplicate-looking one, stops here
        # for a person, before load.
        anomalies_check(
            integration=self.integration,
            order=ctx.record.payload_in,
            erp_prices=self.erp_prices(ctx),
        )

    def erp_prices(self, ctx: FlowContext) -> dict[str, Decimal] | None:
        """The ERP's price of each line's item, keyed by the shop SKU, only when the price
        anomaly rule is on (it costs a call per item)."""
        anomalies = AnomalyOptions.of(self.integration)
        if not (anomalies.enabled and "price" in anomalies.rules):
            return None
        items = ctx.state.get("items") or {}
        prices = self.erp.item_prices(sorted(set(items.values())))
        by_sku = {}
        for line in (ctx.record.payload_in or {}).get("lines") or ():
            price = prices.get(items.get(str(line.get("line_number")), ""))
            if price is not None and line.get("sku"):
                by_sku[str(line["sku"])] = price
        return by_sku

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        placed = self.erp.order_place(
            payload,
            idempotency_key=f"shopsync-{self.integration.pk}-order-{ctx.record.source_id}",
        )
        ctx.state["erp_order"] = {
            "number": placed.erp_id,
            "created": placed.created,
            **{k: v for k, v in placed.details.items() if k != "steps"},
        }
        return placed.erp_id

    def reconcile(self, ctx: FlowContext, target_id: str) -> None:
        record = ctx.record
        erp_order = ctx.state.get("erp_order") or {}
        link_bind(
            integration=self.integration,
            entity="order",
            shop_id=record.source_id,
            erp_id=target_id,
            record=record,
            data={
                "reference": (record.payload_in or {}).get("reference") or record.reference,
                "natural_key": ctx.state.get("natural_key", ""),
                "customer_number": ctx.state.get("customer_number")
                or erp_order.get("customer_number", ""),
                "erp_system": self.erp.system,
                "created": bool(erp_order.get("created", True)),
            },
        )
        ctx.state["erp_order_number"] = target_id
        # PrestaShop's private order messages are not in the shop client (no customer_threads
        # / messages resource), so the ERP number is kept on the link and the record only.
