"""Order to cash through a real django-q2 cluster (`manage.py qcluster` on the test database;
ORM broker on SQLite, Redis with REDIS_URL): the flows load in the workers from the default
SYNC_FLOW_MODULES, and shop orders sent twice still make one ERP order each."""

import pytest
from django.db import transaction

from integrations.models import Link, Status, SyncRecord
from integrations.services.orders import order_sync_enqueue
from integrations.sweep import sweep
from tests.support.cluster import running_cluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = 16


def test_a_real_cluster_turns_shop_orders_into_one_erp_order_each(shop, m3, m3_integration):
    placed = [shop.place_order(state_id=2, stock=False) for _ in range(ORDERS)]
    for order in placed + placed[::3]:  # a third of them triggered twice
        with transaction.atomic():
            order_sync_enqueue(
                integration=m3_integration, order_id=str(order["id"]), reference=order["reference"]
            )

    def all_done() -> bool:
        # Records waiting for a retry (a customer being created by another order) are handed
        # back to the cluster by the sweep, as its schedule would a minute later.
        sweep()
        return SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == ORDERS

    with running_cluster(workers=2) as cluster:
        wait_for(all_done, timeout=60, process=cluster)

    assert SyncRecord.objects.count() == ORDERS
    assert len(m3.state.orders) == ORDERS
    assert len({o.head["CUOR"] for o in m3.state.orders.values()}) == ORDERS
    assert Link.objects.filter(entity="order").count() == ORDERS
