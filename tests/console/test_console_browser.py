"""The ops console in a real browser (Debian's chromium): an operator finds a stuck order by
its shop reference, reads why, fixes the value map, retries and sees it succeed; a viewer
cannot retry; a bulk retry of 500 records completes and the pages show the counts."""

import pytest
from django.utils import timezone

from integrations.management.commands.demo import drain
from integrations.models import Status, SyncRecord
from mappings.models import ValueMapEntry
from tests.console.conftest import login, user_in
from tests.e2e.conftest import place_and_sync
from tests.factories import IntegrationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORDS = "/admin/integrations/syncrecord/"


def test_operator_finds_reads_fixes_retries_and_sees_success(
    page, live_server, django_user_model, shop, m3, m3_integration
):
    entry = ValueMapEntry.objects.select_related("value_map").get(source_value="SIM-0003")
    value_map, erp_item = entry.value_map, entry.target_value
    entry.delete()
    record = place_and_sync(shop, m3_integration, lines=[(2, 0, 1), (3, 0, 2)])
    assert record.status == Status.NEEDS_ATTENTION
    # The operator on duty also owns the mappings here (both groups).
    user_in(django_user_model, "Operator", "Integration admin", username="ops")
    login(page, live_server.url, "ops")

    # Find it by its shop reference.
    page.goto(f"{live_server.url}{RECORDS}")
    page.fill("#searchbar", record.reference)
    page.press("#searchbar", "Enter")
    page.click(f"#result_list a[href*='/{record.pk}/change/']")

    # Read why: the error names the line, the SKU and the product.
    message = page.locator("#record-error-message").inner_text()
    assert "sku 'SIM-0003'" in message
    assert page.locator("#record-error-field").inner_text() == "lines.2.sku"
    assert page.locator("#record-error-value").inner_text() == "SIM-0003"
    assert page.locator("#payloads").is_visible()

    # Fix the value map: the missing SKU → ERP item entry.
    page.goto(f"{live_server.url}/admin/mappings/valuemapentry/add/")
    page.select_option("#id_value_map", str(value_map.pk))
    page.fill("#id_source_value", "SIM-0003")
    page.fill("#id_target_value", erp_item)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    # Retry it from the list.
    page.goto(f"{live_server.url}{RECORDS}?q={record.reference}")
    page.check(f"#result_list input[name=_selected_action][value='{record.pk}']")
    page.select_option("select[name=action]", "retry_records")
    page.click("button[name=index]")
    assert "1 record(s) queued for retry." in page.locator(".messagelist").inner_text()

    drain(concurrency=1)  # the workers' part, run here

    page.goto(f"{live_server.url}{RECORDS}{record.pk}/change/")
    assert "Succeeded" in page.locator(".field-status .readonly").inner_text()
    assert page.locator("#record-links").is_visible()  # the order link it made
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, record.error_message
    assert len(m3.state.orders) == 1


def test_viewer_cannot_retry(page, live_server, django_user_model):
    integration = IntegrationFactory()
    record = SyncRecord.objects.create(
        integration=integration,
        flow="test_noop",
        direction="shop_to_erp",
        source_system="prestashop",
        source_id="1",
        reference="PSVIEW0001",
        idempotency_key="prestashop:1",
        status=Status.NEEDS_ATTENTION,
        error_class="UnknownItem",
        error_message="no ERP item",
    )
    user_in(django_user_model, "Viewer", username="viewer")
    login(page, live_server.url, "viewer")

    page.goto(f"{live_server.url}{RECORDS}?q={record.reference}")
    assert page.locator(f"#result_list a[href*='/{record.pk}/change/']").is_visible()
    assert page.locator("select[name=action]").count() == 0
    assert page.locator("input[name=_selected_action]").count() == 0
    page.goto(f"{live_server.url}{RECORDS}{record.pk}/change/")
    assert "no ERP item" in page.locator("#record-error-message").inner_text()
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


def test_bulk_retry_of_500_records_completes_and_shows_the_counts(
    page, live_server, django_user_model
):
    integration = IntegrationFactory(slug="bulk-shop")
    now = timezone.now()
    SyncRecord.objects.bulk_create(
        SyncRecord(
            integration=integration,
            flow="test_noop",
            direction="shop_to_erp",
            source_system="prestashop",
            source_id=str(n),
            reference=f"PSBULK{n:05d}",
            idempotency_key=f"prestashop:{n}",
            status=Status.DEAD,
            error_class="Timeout",
            error_message="the ERP did not answer",
            payload_in={},
            created_at=now,
        )
        for n in range(500)
    )
    user_in(django_user_model, "Operator", username="ops")
    login(page, live_server.url, "ops")

    page.goto(f"{live_server.url}{RECORDS}?status__exact=dead")
    page.check("#action-toggle")
    page.click(".actions .question a")  # "Select all 500 sync records"
    page.select_option("select[name=action]", "retry_records")
    page.click("button[name=index]")
    assert "500 record(s) queued for retry." in page.locator(".messagelist").inner_text()
    assert SyncRecord.objects.filter(status=Status.PENDING).count() == 500

    drain(concurrency=8)

    assert SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == 500
    page.goto(f"{live_server.url}/admin/console/")
    row = page.locator("#panel-counts tbody tr", has_text="bulk-shop")
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == ["bulk-shop", "test_noop", "500", "500"], cells
    page.goto(f"{live_server.url}{RECORDS}?status__exact=succeeded")
    assert "500" in page.locator("#changelist-form .paginator").inner_text()
