"""Two first orders of one new customer, on two workers at once: one ERP customer."""

import threading

import pytest
from django.db import connection

from integrations.management.commands.demo import drain
from integrations.models import Link, Status, SyncRecord
from integrations.pipeline import process_records
from integrations.services.orders import order_sync_enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_orders_of_a_new_customer_racing_create_one_erp_customer(shop, m3, m3_integration):
    m3.latency = 0.03  # both orders are in flight together
    records = []
    for _ in range(2):
        placed = shop.place_order(customer_id=4, state_id=2, stock=False)
        records.append(
            order_sync_enqueue(
                integration=m3_integration,
                order_id=str(placed["id"]),
                reference=placed["reference"],
            ).record
        )
    barrier = threading.Barrier(2)

    def worker(record):
        barrier.wait(timeout=10)
        try:
            process_records(ids=[record.pk], concurrency=1, worker=f"w{record.pk}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    first = sorted(SyncRecord.objects.values_list("status", flat=True))
    drain(concurrency=1)

    email = shop.record("customers", 4)["email"]
    assert [c["CUNO"] for c in m3.state.customers.values() if c["MAIL"] == email].__len__() == 1
    assert set(SyncRecord.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert len({o.head["CUNO"] for o in m3.state.orders.values()}) == 1
    assert len(m3.state.orders) == 2
    assert Link.objects.filter(entity="customer").count() == 1
    assert not Link.objects.filter(entity="customer.lock").exists()
    # The loser waited (retrying) rather than making a second customer or a conflict.
    assert Status.NEEDS_ATTENTION not in first
