"""End to end against the simulators: an order stops at needs attention because M3 does not
know the item a line was sent with; an operator overrides that one value and retries; the
order is created in M3 once, with the item the operator gave."""

import pytest

from integrations.management.commands.demo import drain, simulated_integration
from integrations.models import Status
from integrations.services.records import (
    OverrideRejected,
    sync_record_override_check,
    sync_record_retry_with_override,
)
from mappings.models import ValueMapEntry
from tests.console.conftest import user_in
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unverified(db, shop, m3):
    """Items are not checked at order time: a wrong item reaches M3, which refuses it."""
    return simulated_integration(
        shop=shop, erp=m3, options={"verify_items": False, "inventory_check": False}
    )


def stuck_at_m3(shop, integration):
    entry = ValueMapEntry.objects.get(source_value="SIM-0003")
    erp_item = entry.target_value
    entry.delete()  # SIM-0003 now goes to M3 as it is: no such item there
    record = place_and_sync(shop, integration, lines=[(2, 0, 1), (3, 0, 2)])
    assert record.status == Status.NEEDS_ATTENTION, record.error_message
    assert record.step == "load"
    assert (record.error_field, record.error_value) == ("ITNO", "SIM-0003")
    return record, erp_item


def test_an_order_m3_refused_succeeds_after_an_override_retry(
    shop, m3, unverified, django_user_model
):
    record, erp_item = stuck_at_m3(shop, unverified)
    assert record.payload_out["lines"][1]["ITNO"] == "SIM-0003"
    assert not m3.state.orders
    operator = user_in(django_user_model, "Operator", username="ops")

    sync_record_retry_with_override(
        record=record,
        field="lines.1.ITNO",
        value=erp_item,
        user=operator,
        reason="M3 item for SIM-0003, checked in MMS001",
    )
    drain(concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.SUCCEEDED, record.error_message
    assert len(m3.state.orders) == 1  # the stopped batch order was replaced, not doubled
    (order,) = m3.state.orders.values()
    assert [line["ITNO"] for line in order.lines][1] == erp_item
    assert record.target_id == order.orno
    history = record.context["override"]["history"]
    assert [(e["event"], e["old_value"], e["value"]) for e in history] == [
        ("set", "SIM-0003", erp_item),
        ("cleared", "SIM-0003", erp_item),
    ]
    assert history[0]["user"] == "ops"


def test_override_values_are_checked_against_the_m3_catalog(shop, m3, unverified):
    record, _ = stuck_at_m3(shop, unverified)
    cases = {
        ("lines.1.ITNO", "X" * 16): "is 16 long, the limit is 15",
        ("lines.1.ORQT", "two"): "value 'two' is not a number",
        ("head.WHLO", "1000"): "is 4 long, the limit is 3",
        ("head.CUOR", "OTHER"): "is the natural key",
    }
    for (field, value), message in cases.items():
        with pytest.raises(OverrideRejected) as caught:
            sync_record_override_check(record=record, field=field, value=value)
        assert message in str(caught.value), (field, str(caught.value))
        assert field in str(caught.value)
    # A well-formed quantity is parsed as M3's decimal.
    check = sync_record_override_check(record=record, field="lines.1.ORQT", value="3")
    assert str(check.new_value) == "3"
