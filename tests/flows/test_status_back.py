"""status_back: the state map, never backwards, the poller seam and the scan's keys."""

import pytest

from integrations.flows.status_back import status_back_scan, status_key
from integrations.management.commands.demo import drain
from integrations.models import Link, Status, SyncRecord
from integrations.pollers.registry import streams_for
from integrations.pollers.service import poll_integration_stream
from integrations.services.records import sync_record_enqueue
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db


def test_the_scan_and_the_poller_give_the_same_record(shop, m3, m3_integration):
    place_and_sync(shop, m3_integration)
    order = next(iter(m3.state.orders))
    m3.state.advance(35)  # delivered: shipped

    assert "infor_m3.order_status" in streams_for(m3_integration)
    polled = poll_integration_stream(
        integration_id=m3_integration.pk, stream="infor_m3.order_status"
    )
    assert (polled.records_created, polled.error) == (1, "")
    record = SyncRecord.objects.get(flow="status_back")
    assert record.idempotency_key == status_key("infor_m3", order, "shipped")
    assert status_back_scan(m3_integration) == {"checked": 1, "created": 0, "existing": 1}


def test_tims_poller_stream_is_registered_and_keys_by_state(shop, tims, tims_integration):
    place_and_sync(shop, tims_integration)
    tims.advance(130)
    assert "tims.order_status" in streams_for(tims_integration)
    polled = poll_integration_stream(integration_id=tims_integration.pk, stream="tims.order_status")
    assert polled.records_created == 1
    number = next(iter(tims.state.orders))
    assert (
        SyncRecord.objects.get(flow="status_back").idempotency_key == f"tims:order:{number}@shipped"
    )


def test_a_shop_order_already_further_along_is_not_moved_back(shop, m3, m3_integration):
    record = place_and_sync(shop, m3_integration)
    order = shop.record("orders", int(record.source_id))
    shop.state.change_state(order, 5, send_email=False)  # delivered, by hand in the shop
    m3.state.advance(35)

    status_back_scan(m3_integration)
    drain(concurrency=1)

    back = SyncRecord.objects.get(flow="status_back")
    assert back.status == Status.SUCCEEDED
    assert shop.record("orders", order["id"])["current_state"] == 5
    assert "already at or past" in back.context["state_note"]
    # the tracking number still went
    carriers = [
        r for r in shop.state.tables["order_carriers"].values() if r["id_order"] == order["id"]
    ]
    assert carriers[0]["tracking_number"]


def test_the_state_map_comes_from_flow_options(shop, m3, m3_integration):
    m3_integration.options = {**m3_integration.options, "status_back": {"states": {"shipped": "5"}}}
    m3_integration.save()
    record = place_and_sync(shop, m3_integration)
    m3.state.advance(35)
    status_back_scan(m3_integration)
    drain(concurrency=1)
    assert shop.record("orders", int(record.source_id))["current_state"] == 5


def test_an_erp_order_not_from_the_shop_is_skipped_with_the_reason(m3_integration):
    record = sync_record_enqueue(
        integration=m3_integration,
        flow="status_back",
        source_system="infor_m3",
        source_id="0000999999",
        direction="erp_to_shop",
        idempotency_key=status_key("infor_m3", "0000999999", "shipped"),
        enqueue=False,
    ).record
    drain(concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.SKIPPED
    assert "not linked" in record.error_message
    assert not Link.objects.filter(entity="order").exists()
