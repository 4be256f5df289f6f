"""Run order to cash headless against in-process simulators and check the result.

    python manage.py demo --orders 50 --exit            # PrestaShop + Infor M3
    python manage.py demo --orders 50 --erp tims --exit

Starts a PrestaShop simulator and an ERP simulator on free ports, wires a fresh integration
to them (default mappings installed and promoted), places N orders in the shop, runs every
record through the pipeline (threads, as a worker would) and prints what happened: created,
linked, skipped, needs attention, and duplicates (ERP orders with the same natural key, which
must be zero). Exits non-zero on any mismatch.

The wiring here (`simulated_integration`, with services.orders.order_simulator_mappings) is
also what the end-to-end tests use.
"""

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from connectors.infor.simulator import M3Simulator
from connectors.models import Connection, System
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from connectors.tims.simulator import TimsSimulator
from integrations.models import Integration, Link, Status, SyncRecord
from integrations.pipeline import process_records
from integrations.services.orders import (
    order_simulator_mappings,
    order_sync_enqueue,
    simulator_item_map,
)


def simulated_integration(
    *,
    shop: PrestaShopSimulator,
    erp: M3Simulator | TimsSimulator,
    slug: str | None = None,
    options: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
    **fields: Any,
) -> Integration:
    """A fresh integration wired to running simulators, ready for order to cash.
    `client_options` (timeouts, rate limits) go on both connections."""
    client_options = client_options or {}
    slug = slug or f"sim-{get_random_string(8).lower()}"
    shop_connection = Connection.objects.create(
        name=f"{slug} shop",
        system=System.PRESTASHOP,
        base_url=shop.base_url,
        credentials={"api_key": DEFAULT_KEY},
        options={
            "version": "8",
            "timezone": "Europe/Paris",
            "send_email": False,
            **client_options,
        },
    )
    if isinstance(erp, M3Simulator):
        erp_connection = Connection.objects.create(
            name=f"{slug} m3",
            system=System.INFOR_M3,
            base_url=erp.base_url,
            credentials=erp.ionapi(),
            options={"cono": "100", "divi": "AAA", **client_options},
        )
    else:
        erp_connection = Connection.objects.create(
            name=f"{slug} tims",
            system=System.TIMS,
            base_url=erp.base_url,
            credentials=erp.credentials.as_dict(),
            options={**erp.connection_options(), **client_options},
        )
    integration = Integration.objects.create(
        slug=slug,
        name=f"Simulated {slug}",
        shop_connection=shop_connection,
        erp_connection=erp_connection,
        enabled_flows=["order_to_cash", "status_back"],
        options={
            "order_to_cash": {
                "item_value_map": simulator_item_map(erp_connection.system),
                **(options or {}),
            }
        },
        **{"retry_limit": 8, "backoff_base_seconds": 0, "backoff_cap_seconds": 1, **fields},
    )
    order_simulator_mappings(integration=integration)
    return integration


def drain(*, rounds: int = 30, concurrency: int = 8, limit: int = 500) -> None:
    """Run due records until none is left, treating every retry as due now."""
    for _ in range(rounds):
        SyncRecord.objects.filter(status=Status.RETRYING).update(next_attempt_at=None)
        claimed = process_records(limit=limit, concurrency=concurrency).claimed
        if not claimed and not SyncRecord.objects.filter(status=Status.RETRYING).exists():
            return


@dataclass
class DemoSummary:
    orders: int
    records: int
    created: int
    linked: int
    skipped: int
    needs_attention: int
    other: int
    duplicates: int
    erp_orders: int
    seconds: float

    @property
    def ok(self) -> bool:
        return (
            self.duplicates == 0
            and self.records == self.orders
            and self.linked + self.skipped + self.needs_attention == self.orders
            and self.erp_orders == self.linked
            and self.other == 0
        )


def erp_orders_by_key(erp: M3Simulator | TimsSimulator) -> Counter:
    if isinstance(erp, M3Simulator):
        return Counter(o.head.get("CUOR", "") for o in erp.state.orders.values())
    return Counter(o["customer_po"] for o in erp.state.orders.values())


def run_demo(*, orders: int, erp_name: str = "m3", concurrency: int = 8) -> DemoSummary:
    shop = PrestaShopSimulator(seed=7, orders=0)
    erp = M3Simulator(seed=7, customers=0) if erp_name == "m3" else TimsSimulator(seed=7)
    with shop, erp:
        integration = simulated_integration(shop=shop, erp=erp)
        placed = []
        for n in range(orders):
            # Mostly paid orders, a few in payment error (skipped by the default rules).
            state = 8 if n % 25 == 24 else 2
            placed.append(shop.place_order(state_id=state, stock=False))
        started = time.perf_counter()
        for order in placed:
            order_sync_enqueue(
                integration=integration,
                order_id=str(order["id"]),
                reference=order["reference"],
                enqueue=False,  # run here, headless: no q2 task
            )
        drain(concurrency=concurrency)
        seconds = time.perf_counter() - started
        records = SyncRecord.objects.filter(integration=integration, flow="order_to_cash")
        counts = Counter(records.values_list("status", flat=True))
        links = Link.objects.filter(integration=integration, entity="order")
        by_key = erp_orders_by_key(erp)
        created = sum(
            1 for data in links.values_list("data", flat=True) if (data or {}).get("created")
        )
        return DemoSummary(
            orders=orders,
            records=records.count(),
            created=created,
            linked=links.count(),
            skipped=counts.get(Status.SKIPPED, 0),
            needs_attention=counts.get(Status.NEEDS_ATTENTION, 0),
            other=sum(
                v
                for k, v in counts.items()
                if k not in (Status.SUCCEEDED, Status.SKIPPED, Status.NEEDS_ATTENTION)
            ),
            duplicates=sum(n - 1 for n in by_key.values() if n > 1),
            erp_orders=sum(by_key.values()),
            seconds=seconds,
        )


class Command(BaseCommand):
    help = (
        "Place N orders in an in-process PrestaShop simulator, run order to cash against an "
        "in-process ERP simulator, print a summary; non-zero exit on any mismatch."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--orders", type=int, default=20)
        parser.add_argument("--erp", choices=("m3", "tims"), default="m3")
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument(
            "--exit", action="store_true", help="Exit when done (the only mode; for scripts)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["orders"] < 1:
            raise CommandError(f"--orders must be at least 1, not {options['orders']}")
        summary = run_demo(
            orders=options["orders"], erp_name=options["erp"], concurrency=options["concurrency"]
        )
        self.stdout.write(
            f"orders {summary.orders}: created {summary.created}, linked {summary.linked}, "
            f"skipped {summary.skipped}, needs attention {summary.needs_attention}, "
            f"other {summary.other}, duplicates {summary.duplicates}; "
            f"{summary.erp_orders} ERP orders in {summary.seconds:.1f} s"
        )
        if not summary.ok:
            raise CommandError("mismatch: see the counts above")
        self.stdout.write(self.style.SUCCESS("OK: every order is linked once, none twice"))
