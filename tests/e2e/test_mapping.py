"""Mapping on the way in: decimals, currency conversion from the shop's currency to the ERP's
base, and enrichment rules."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from integrations.management.commands.demo import drain
from integrations.models import Status
from integrations.services.orders import order_sync_enqueue
from integrations.services.records import sync_record_retry
from mappings.models import CurrencyRate, MappingSet, Rule

pytestmark = pytest.mark.django_db


def test_a_usd_order_is_converted_to_the_erp_base_currency_once_the_rate_exists(
    shop, m3, m3_integration
):
    placed = shop.place_order(state_id=2, stock=False, lines=[(2, 0, 3)])
    placed["id_currency"] = 2  # US dollars
    record = order_sync_enqueue(
        integration=m3_integration, order_id=str(placed["id"]), reference=placed["reference"]
    ).record
    drain(concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "SAPR"
    assert "no currency rate USD→EUR" in record.error_message
    assert "Currency rates" in record.error_message

    day = datetime.strptime(placed["date_add"], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=ZoneInfo("Europe/Paris")
    )
    CurrencyRate.objects.create(
        date=day.date(), from_currency="USD", to_currency="EUR", rate=Decimal("0.9")
    )
    sync_record_retry(record=record)
    drain(concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = m3.state.orders.values()
    price = Decimal(placed["associations"]["order_rows"][0]["unit_price_tax_excl"])
    assert order.lines[0]["SAPR"] == (price * Decimal("0.9")).quantize(Decimal("0.0001"))
    assert order.lines[0]["ORQT"] == Decimal(3)


def test_an_enrichment_rule_sets_a_field_on_the_erp_order(shop, m3, m3_integration):
    head = MappingSet.objects.get(integration=m3_integration, entity="order_header", active=True)
    Rule.objects.create(
        mapping_set=head,
        position=99,
        name="Big orders are type BIG",
        condition="to_number(total_paid) > `0`",
        assignments={"ORTP": "BIG"},
    )
    head.save()
    placed = shop.place_order(state_id=2, stock=False)
    record = order_sync_enqueue(
        integration=m3_integration, order_id=str(placed["id"]), reference=placed["reference"]
    ).record
    drain(concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.SUCCEEDED, record.error_message
    [order] = m3.state.orders.values()
    assert order.head["ORTP"] == "BIG"
