"""Pollers: date_upd cursors per integration and stream, overlap and de-duplication, a failed
poll keeps its cursor, ERP streams plug in through the registry."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection

from connectors.errors import TransientError
from connectors.models import System
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from integrations.models import PollCursor, Status, SyncRecord
from integrations.pollers import prestashop as ps_pollers
from integrations.pollers.base import Change, Poller
from integrations.pollers.registry import register, unregister
from integrations.pollers.service import (
    poll_integration_stream,
    poll_stream,
    pollable_streams,
)
from integrations.webhooks.processing import webhook_events_process
from tests.events.conftest import FLOWS, post, signed_headers, thin_event
from tests.factories import ConnectionFactory, IntegrationFactory


@pytest.fixture(autouse=True)
def _read_the_whole_seeded_history(monkeypatch):
    # The simulator's orders are weeks old; production's first run reads 24 hours back.
    monkeypatch.setattr(ps_pollers, "INITIAL_LOOKBACK", timedelta(days=3650))


@pytest.fixture
def sim():
    with PrestaShopSimulator(seed=3, orders=5, customers=3, products=4) as simulator:
        yield simulator


@pytest.fixture
def shop(db, sim, secret):
    return IntegrationFactory(
        slug="shop-a",
        enabled_flows=FLOWS,
        webhook_secrets={"prestashop": [secret]},
        shop_connection=ConnectionFactory(
            system=System.PRESTASHOP, base_url=sim.base_url, credentials={"api_key": DEFAULT_KEY}
        ),
    )


def keys(flow: str) -> list[str]:
    return sorted(SyncRecord.objects.filter(flow=flow).values_list("idempotency_key", flat=True))


@pytest.mark.django_db
def test_orders_poll_creates_one_record_per_order_and_moves_the_cursor(shop, sim):
    result = poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    assert (result.read, result.records_created, result.error) == (5, 5, "")
    assert keys("order_to_cash") == [f"prestashop:{i}" for i in range(1, 6)]
    cursor = PollCursor.objects.get(integration=shop, stream="prestashop.orders")
    assert cursor.value == sim.record("orders", 5)["date_upd"]
    assert cursor.last_success_at and not cursor.last_error
    assert SyncRecord.objects.get(source_id="3").reference == sim.record("orders", 3)["reference"]

    again = poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    # The overlap window re-reads the last order; its key collapses it into the same record.
    assert again.records_created == 0
    assert again.read == again.duplicates
    assert SyncRecord.objects.count() == 5

    sim.place_order()
    third = poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    assert third.records_created == 1
    assert PollCursor.objects.get(pk=cursor.pk).value == sim.record("orders", 6)["date_upd"]


@pytest.mark.django_db
def test_cursors_are_per_integration_and_stream(shop, sim):
    poll_stream(integration=shop, poller=ps_pollers.CustomersPoller(shop))
    poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    assert set(PollCursor.objects.values_list("stream", flat=True)) == {
        "prestashop.customers",
        "prestashop.orders",
    }
    assert len(keys("customers")) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", [1, 2])
def test_a_change_landing_during_the_page_walk_is_not_lost(shop, sim, monkeypatch, page_size):
    # The seeded customers share one date_upd: the hardest case for paging.
    monkeypatch.setattr(ps_pollers, "PAGE_SIZE", page_size)
    poller = ps_pollers.CustomersPoller(shop)
    walk = poller.fetch

    def fetch_and_edit(since: str | None) -> Iterator[Change]:
        for number, change in enumerate(walk(since)):
            if number == 0:
                # Customer 1 is edited in the shop while we are on page one.
                with sim.state.lock:
                    sim.record("customers", 1)["date_upd"] = sim.state.now()
            yield change

    monkeypatch.setattr(poller, "fetch", fetch_and_edit)
    poll_stream(integration=shop, poller=poller)
    # One record per customer; pretend the first walk's records all ran.
    assert keys("customers") == ["customer:1", "customer:2", "customer:3"]
    SyncRecord.objects.filter(flow="customers").update(status=Status.SUCCEEDED)

    second = poll_stream(integration=shop, poller=ps_pollers.CustomersPoller(shop))

    # The edit made during the first walk is seen by the next poll (its overlap window) and
    # re-opens customer 1's record, so the change is carried, not lost.
    assert second.records_created >= 1
    assert SyncRecord.objects.get(flow="customers", idempotency_key="customer:1").status == (
        Status.PENDING
    )
    assert len(keys("customers")) == 3


@pytest.mark.django_db
def test_orders_edited_during_a_walk_of_small_pages_are_all_read(shop, sim, monkeypatch):
    monkeypatch.setattr(ps_pollers, "PAGE_SIZE", 2)
    poller = ps_pollers.OrdersPoller(shop)
    walk = poller.fetch
    edited = []

    def fetch_and_edit(since: str | None) -> Iterator[Change]:
        for change in walk(since):
            if change.data["id"] in (1, 3) and change.data["id"] not in edited:
                edited.append(change.data["id"])
                with sim.state.lock:
                    order = sim.record("orders", change.data["id"])
                    sim.state.change_state(order, 3, send_email=False)
            yield change

    monkeypatch.setattr(poller, "fetch", fetch_and_edit)
    result = poll_stream(integration=shop, poller=poller)
    assert keys("order_to_cash") == [f"prestashop:{i}" for i in range(1, 6)]
    assert result.error == ""


class FlakyPoller(Poller):
    stream = "fake.flaky"
    source = "tims"
    flow = "status_back"

    def fetch(self, since: str | None) -> Iterator[Change]:
        for i in (1, 2):
            yield Change(
                "order.status_changed",
                {"resource": "orders", "id": i, "date_upd": f"2026-11-2{i} 10:00:00"},
                cursor=f"2026-11-2{i} 10:00:00",
            )
        raise TransientError("TIMS answered 503")


@pytest.mark.django_db
def test_a_failed_poll_leaves_the_cursor_where_it_was(shop):
    PollCursor.objects.create(integration=shop, stream="fake.flaky", value="2026-11-01 00:00:00")
    result = poll_stream(integration=shop, poller=FlakyPoller(shop))
    assert "TIMS answered 503" in result.error
    cursor = PollCursor.objects.get(stream="fake.flaky")
    assert cursor.value == "2026-11-01 00:00:00"
    assert "503" in cursor.last_error and cursor.last_run_at and not cursor.last_success_at
    # What was read stays (idempotent) and is read again next time without doubling.
    assert SyncRecord.objects.count() == 2
    poll_stream(integration=shop, poller=FlakyPoller(shop))
    assert SyncRecord.objects.count() == 2


@pytest.mark.django_db
def test_a_failing_shop_leaves_the_cursor(shop, sim):
    poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    before = PollCursor.objects.get().value
    sim.stop()
    result = poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    assert result.error
    assert PollCursor.objects.get().value == before


class FakeErpPoller(Poller):
    """Stands in for the M3/TIMS pollers being written: same seam, canned changes."""

    stream = "tims.orders"
    source = "tims"
    flow = "status_back"
    changes: list[Change] = []

    def fetch(self, since: str | None) -> Iterator[Change]:
        return iter([c for c in self.changes if since is None or c.cursor > since])


@pytest.mark.django_db
def test_erp_streams_plug_in_through_the_registry(db, secret):
    integration = IntegrationFactory(
        enabled_flows=["status_back"], erp_connection=ConnectionFactory(system=System.TIMS)
    )
    FakeErpPoller.changes = [
        Change(
            "order.status_changed",
            {"resource": "orders", "id": n, "date_upd": f"2026-11-24 0{n}:00:00", "reference": "R"},
            cursor=f"{n:05d}",
        )
        for n in (1, 2, 3)
    ]
    register(System.TIMS, "tims.orders")(FakeErpPoller)
    try:
        assert "tims.orders" in pollable_streams(integration)
        first = poll_integration_stream(integration_id=integration.pk, stream="tims.orders")
        assert (first.records_created, first.cursor) == (3, "00003")
        FakeErpPoller.changes.append(
            Change(
                "shipment.created",
                {"resource": "shipments", "id": 9, "date_upd": "x"},
                cursor="00004",
            )
        )
        second = poll_integration_stream(integration_id=integration.pk, stream="tims.orders")
        assert (second.read, second.records_created, second.cursor) == (1, 1, "00004")
    finally:
        unregister(System.TIMS, "tims.orders")
    record = SyncRecord.objects.get(source_id="9")
    assert (record.flow, record.direction, record.source_system) == (
        "status_back",
        "erp_to_shop",
        "tims",
    )


@pytest.mark.django_db
def test_a_first_run_reads_only_the_recent_past(shop, sim, monkeypatch):
    monkeypatch.setattr(ps_pollers, "INITIAL_LOOKBACK", timedelta(hours=24))
    sim.place_order()
    result = poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop))
    assert result.records_created == 1  # the new order, not the seeded history
    assert SyncRecord.objects.get().source_id == "6"


class BrokenRowPoller(FlakyPoller):
    stream = "fake.broken"

    def fetch(self, since: str | None) -> Iterator[Change]:
        yield Change("order.status_changed", {"resource": "orders", "date_upd": "d"}, "c1")
        yield Change("order.status_changed", {"resource": "orders", "id": 7, "date_upd": "d"}, "c2")


@pytest.mark.django_db
def test_a_row_that_cannot_be_keyed_is_reported_and_skipped(shop):
    result = poll_stream(integration=shop, poller=BrokenRowPoller(shop))
    assert (result.rejected, result.records_created, result.error) == (1, 1, "")
    assert PollCursor.objects.get(stream="fake.broken").value == "c2"


@pytest.mark.django_db
def test_streams_of_disabled_flows_are_not_polled(shop):
    shop.enabled_flows = ["customers"]
    assert pollable_streams(shop) == ["prestashop.customers"]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_and_the_poller_racing_on_one_order_give_one_record(client, shop, sim, secret):
    order = sim.place_order()
    body = thin_event("order.created", id=order["id"], date_upd=order["date_upd"])
    assert post(client, body, signed_headers(body, secret)).status_code == 202
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(fn):
        try:
            start.wait()
            fn()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(webhook_events_process,)),
        threading.Thread(
            target=run,
            args=(lambda: poll_stream(integration=shop, poller=ps_pollers.OrdersPoller(shop)),),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert SyncRecord.objects.filter(flow="order_to_cash", source_id=str(order["id"])).count() == 1
    assert SyncRecord.objects.filter(flow="order_to_cash").count() == 6
