"""Order to cash end to end: shop orders per second into M3 at 1, 4 and 8 workers, against
the simulators at 20 ms latency per request, beside the floor that latency sets.

Each order is one order_to_cash record run by the real pipeline (process_records, its I/O
threads being the workers): the order read from the shop, items checked, customer linked or
created, stock read, mappings applied, the ERP looked up by CUOR, the batch order made, the
link written. The floor is calls per order x latency ÷ workers.

The simulators run in a child process, so "our CPU per order" is this process's CPU time
(the integration: HTTP clients, mappings, database) divided by the orders.

Run: `python -m bench order_to_cash`.
"""

import multiprocessing
import time
from typing import Any

from django.core.management import call_command

LATENCY = 0.020  # seconds each simulator adds to every request
WORKERS = (1, 4, 8)
ORDERS_PER_WORKER = 12  # orders per run = this x workers (at least 24)
WARMUP_ORDERS = 8  # first orders create the ERP customers: run before measuring


def _serve(conn: Any, latency: float) -> None:
    """The child: both simulators, answering the parent's few commands."""
    from connectors.infor.simulator import M3Simulator
    from connectors.prestashop.simulator import PrestaShopSimulator

    shop = PrestaShopSimulator(seed=21, orders=0)
    shop.faults.latency = latency
    m3 = M3Simulator(seed=21, customers=0, latency=latency)
    with shop, m3:
        conn.send({"shop": shop.base_url, "m3": m3.base_url, "ionapi": m3.ionapi()})
        while True:
            command, argument = conn.recv()
            if command == "place":
                orders = [shop.place_order(state_id=2, stock=False) for _ in range(argument)]
                conn.send([(o["id"], o["reference"]) for o in orders])
            elif command == "counts":
                conn.send(
                    {
                        "shop_calls": len(shop.requests),
                        "m3_calls": len(m3.requests),
                        "m3_orders": len(m3.state.orders),
                    }
                )
            else:
                conn.send("bye")
                return


def _integration(urls: dict[str, Any], slug: str):
    from connectors.models import Connection, System
    from connectors.prestashop.simulator import DEFAULT_KEY
    from integrations.models import Integration
    from integrations.services.orders import SIMULATOR_ITEM_MAP, order_simulator_mappings

    shop = Connection.objects.create(
        name=f"{slug} shop",
        system=System.PRESTASHOP,
        base_url=urls["shop"],
        credentials={"api_key": DEFAULT_KEY},
        options={"version": "8", "send_email": False},
    )
    m3 = Connection.objects.create(
        name=f"{slug} m3",
        system=System.INFOR_M3,
        base_url=urls["m3"],
        credentials=urls["ionapi"],
        options={"cono": "100", "divi": "AAA"},
    )
    integration = Integration.objects.create(
        slug=slug,
        name=slug,
        shop_connection=shop,
        erp_connection=m3,
        enabled_flows=["order_to_cash"],
        options={"order_to_cash": {"item_value_map": SIMULATOR_ITEM_MAP}},
        backoff_base_seconds=0,
        backoff_cap_seconds=1,
    )
    order_simulator_mappings(integration=integration)
    return integration


def _run(conn: Any, integration: Any, *, orders: int, workers: int) -> dict[str, Any]:
    from integrations.models import Status, SyncRecord
    from integrations.pipeline import process_records
    from integrations.services.records import sync_record_enqueue

    conn.send(("place", orders))
    placed = conn.recv()
    ids = [
        sync_record_enqueue(
            integration=integration,
            flow="order_to_cash",
            source_system="prestashop",
            source_id=str(order_id),
            reference=reference,
            enqueue=False,
        ).record.pk
        for order_id, reference in placed
    ]
    conn.send(("counts", None))
    before = conn.recv()
    cpu, wall = time.process_time(), time.perf_counter()
    while True:
        SyncRecord.objects.filter(id__in=ids, status=Status.RETRYING).update(next_attempt_at=None)
        if not process_records(ids=ids, limit=len(ids), concurrency=workers).claimed:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    conn.send(("counts", None))
    after = conn.recv()
    done = SyncRecord.objects.filter(id__in=ids, status=Status.SUCCEEDED).count()
    calls = (
        after["shop_calls"] - before["shop_calls"] + after["m3_calls"] - before["m3_calls"]
    ) / orders
    floor_rate = workers / (calls * LATENCY)
    rate = done / wall
    return {
        "workers": workers,
        "orders": orders,
        "succeeded": done,
        "erp_orders_created": after["m3_orders"] - before["m3_orders"],
        "orders_per_second": round(rate, 2),
        "floor_orders_per_second": round(floor_rate, 2),
        "of_floor": round(rate / floor_rate, 2),
        "calls_per_order": round(calls, 2),
        "seconds": round(wall, 2),
        "our_cpu_ms_per_order": round(cpu / orders * 1000, 2),
    }


def run() -> dict[str, Any]:
    from django.db import connection

    from integrations.flows.registry import clear_flow_cache

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # Fork before any socket or thread exists in this process.
    connection.close()
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(child, LATENCY), daemon=True
    )
    process.start()
    urls = parent.recv()
    results = []
    try:
        for workers in WORKERS:
            clear_flow_cache()
            integration = _integration(urls, f"bench-o2c-{workers}")
            _run(parent, integration, orders=WARMUP_ORDERS, workers=workers)
            results.append(
                _run(
                    parent,
                    integration,
                    orders=max(24, ORDERS_PER_WORKER * workers),
                    workers=workers,
                )
            )
    finally:
        parent.send(("stop", None))
        parent.recv()
        process.join(timeout=10)
    return {
        "database": connection.vendor,
        "latency_ms": LATENCY * 1000,
        "runs": results,
        "note": (
            "floor = workers / (calls per order x latency); calls counted at the simulators "
            "(shop + M3, token grants excluded as cached). CPU is this process only."
        ),
    }
