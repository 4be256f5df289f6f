"""In a real browser (Debian's chromium): an operator overrides the one value M3 refused and
retries; the record succeeds and its page shows who overrode what and why."""

import pytest

from integrations.management.commands.demo import drain, simulated_integration
from integrations.models import Status
from mappings.models import ValueMapEntry
from tests.console.conftest import login, user_in
from tests.e2e.conftest import place_and_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORDS = "/admin/integrations/syncrecord/"


def test_operator_overrides_one_field_and_retries(page, live_server, django_user_model, shop, m3):
    integration = simulated_integration(
        shop=shop, erp=m3, options={"verify_items": False, "inventory_check": False}
    )
    entry = ValueMapEntry.objects.get(source_value="SIM-0003")
    erp_item = entry.target_value
    entry.delete()
    record = place_and_sync(shop, integration, lines=[(2, 0, 1), (3, 0, 2)])
    assert record.status == Status.NEEDS_ATTENTION
    user_in(django_user_model, "Operator", username="ops")
    login(page, live_server.url, "ops")

    page.goto(f"{live_server.url}{RECORDS}{record.pk}/change/")
    assert page.locator("#record-error-value").inner_text() == "SIM-0003"
    page.click("#override-link")
    # The field M3 blamed is preselected; the operator gives the right item and says why.
    assert page.locator("#id_field").input_value() == "lines.1.ITNO"
    page.fill("#id_value", erp_item)
    page.fill("#id_reason", "SIM-0003 is this item in M3 (MMS001)")
    page.click("input[name=preview]")
    assert page.locator("#confirm-old").inner_text() == "SIM-0003"
    assert page.locator("#confirm-new").inner_text() == erp_item
    page.click("input[name=confirm]")
    assert "queued for retry with lines.1.ITNO" in page.locator(".messagelist").inner_text()

    drain(concurrency=1)  # the workers' part, run here

    page.goto(f"{live_server.url}{RECORDS}{record.pk}/change/")
    assert "Succeeded" in page.locator(".field-status .readonly").inner_text()
    history = page.locator("#override-history").inner_text()
    assert "SIM-0003 is this item in M3 (MMS001)" in history
    assert "ops" in history
    assert page.locator("#override-link").count() == 0
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, record.error_message
    assert len(m3.state.orders) == 1


def test_viewer_sees_no_override_and_gets_403(page, live_server, django_user_model, shop, m3):
    integration = simulated_integration(
        shop=shop, erp=m3, options={"verify_items": False, "inventory_check": False}
    )
    ValueMapEntry.objects.filter(source_value="SIM-0003").delete()
    record = place_and_sync(shop, integration, lines=[(3, 0, 1)])
    assert record.status == Status.NEEDS_ATTENTION
    user_in(django_user_model, "Viewer", username="viewer")
    login(page, live_server.url, "viewer")
    page.goto(f"{live_server.url}{RECORDS}{record.pk}/change/")
    assert page.locator("#override-link").count() == 0
    response = page.goto(f"{live_server.url}{RECORDS}{record.pk}/override/")
    assert response.status == 403
