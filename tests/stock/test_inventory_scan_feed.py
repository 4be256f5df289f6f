"""The incremental stock scan when the ERP's change feed names a reference the shop cannot
publish (found by the chaos run, bench/chaos): it must not stop the scan for everything else."""

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest

from integrations.flows.registry import clear_flow_cache
from integrations.models import PollCursor, StockRun
from integrations.services.stock import CURSOR_STREAM, stock_scan_incremental
from tests.stock.conftest import (
    m3_stock,
    make_integration,
    run_inventory_records,
    shop_quantity,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_flows():
    clear_flow_cache()
    yield
    clear_flow_cache()


class FeedStub:
    """An ERP stock source whose change feed lists every item it has figures for."""

    def __init__(self, figures: dict[str, Decimal]) -> None:
        self.figures = figures

    def availability(self, skus: list[str]) -> dict[str, Decimal]:
        return {sku: self.figures[sku] for sku in skus if sku in self.figures}

    def changed_skus(self, since: datetime) -> Iterator[str]:
        yield from self.figures


def _parent_and_combination(shop) -> tuple[str, str]:
    combination = next(iter(shop.state.tables["combinations"].values()))
    product = shop.state.tables["products"][combination["id_product"]]
    return product["reference"], combination["reference"]


def test_a_product_with_combinations_in_the_feed_is_skipped_and_the_rest_published(shop, m3):
    integration = make_integration(shop, m3)
    parent, combination = _parent_and_combination(shop)
    assert stock_scan_incremental(integration=integration)  # the first scan sets the cursor
    m3_stock(m3, combination, w100=7)  # what the record reads when it runs
    feed = FeedStub({parent: Decimal(50), combination: Decimal(7)})

    run = stock_scan_incremental(integration=integration, erp=feed)

    assert run is not None and run.error == ""
    assert run.report["changed"] == 2 and run.report["to_write"] == 1
    cursor = PollCursor.objects.get(integration=integration, stream=CURSOR_STREAM)
    assert cursor.last_error == "" and datetime.fromisoformat(cursor.value) >= run.started_at
    run_inventory_records(integration)
    assert shop_quantity(shop, combination) == 7


def test_a_scan_that_fails_keeps_its_cursor_and_records_the_error(shop, m3):
    integration = make_integration(shop, m3)
    assert stock_scan_incremental(integration=integration)
    cursor = PollCursor.objects.get(integration=integration, stream=CURSOR_STREAM)

    class Broken(FeedStub):
        def changed_skus(self, since: datetime) -> Iterator[str]:
            raise RuntimeError("feed down")

    with pytest.raises(RuntimeError):
        stock_scan_incremental(integration=integration, erp=Broken({}))

    after = PollCursor.objects.get(pk=cursor.pk)
    assert after.value == cursor.value and "feed down" in after.last_error
    assert StockRun.objects.filter(integration=integration, error__contains="feed down").exists()
