"""The record list's actions and pages, through the admin as each role sees them."""

import pytest
from django.urls import reverse

from integrations.models import Link, Status, SyncRecord
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_syncrecord_changelist"


def _post_action(client, action, records, follow=False, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [r.pk for r in records], **extra},
        follow=follow,
    )


def _stuck(integration, n=1, **fields):
    values = {
        "status": Status.NEEDS_ATTENTION,
        "error_class": "UnknownItem",
        "error_field": "lines.1.sku",
        "error_value": "SIM-0003",
        "error_message": "line 1 sku 'SIM-0003': no ERP item",
        **fields,
    }
    return [SyncRecordFactory(integration=integration, **values) for _ in range(n)]


def test_viewer_sees_records_but_no_action(client, viewer):
    [record] = _stuck(IntegrationFactory())
    client.force_login(viewer)

    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert record.reference in page.text
    assert 'name="action"' not in page.text

    response = _post_action(client, "retry_records", [record])
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION
    assert response.status_code in (200, 302)


def test_operator_retries(client, operator):
    records = _stuck(IntegrationFactory(), n=3)
    client.force_login(operator)

    response = _post_action(client, "retry_records", records[:2], follow=True)

    assert "2 record(s) queued for retry." in response.text
    statuses = list(SyncRecord.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [Status.PENDING, Status.PENDING, Status.NEEDS_ATTENTION]


def test_resolve_asks_for_a_note_then_keeps_it(client, operator):
    [record] = _stuck(IntegrationFactory())
    client.force_login(operator)

    form = _post_action(client, "resolve_records", [record])
    assert form.status_code == 200
    assert 'id="note-form"' in form.text
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION

    empty = _post_action(client, "resolve_records", [record], apply="1", note="  ")
    assert 'id="note-form"' in empty.text
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION

    done = _post_action(
        client, "resolve_records", [record], apply="1", note="keyed into M3 by hand", follow=True
    )
    assert "1 record(s) resolved." in done.text
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert "resolved by operator" in record.resolution_note
    assert "keyed into M3 by hand" in record.resolution_note


def test_skip_keeps_the_reason(client, operator):
    [record] = _stuck(IntegrationFactory())
    client.force_login(operator)

    _post_action(client, "skip_records", [record], apply="1", note="test order, cancelled")

    record.refresh_from_db()
    assert record.status == Status.SKIPPED
    assert "skipped by operator" in record.resolution_note


def test_retry_same_error_releases_every_open_record_with_that_error(client, operator):
    integration = IntegrationFactory()
    same = _stuck(integration, n=4)
    dead = _stuck(integration, status=Status.DEAD)
    other_field = _stuck(integration, error_field="lines.2.sku")
    other_integration = _stuck(IntegrationFactory())
    client.force_login(operator)

    response = _post_action(client, "retry_same_error", same[:1], follow=True)

    assert "5 record(s) with the same error queued for retry." in response.text
    retried = set(SyncRecord.objects.filter(status=Status.PENDING).values_list("id", flat=True))
    assert retried == {r.pk for r in [*same, *dead]}
    assert other_field[0].pk not in retried and other_integration[0].pk not in retried


def test_viewer_cannot_resolve(client, viewer):
    [record] = _stuck(IntegrationFactory())
    client.force_login(viewer)
    _post_action(client, "resolve_records", [record], apply="1", note="nope")
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("PS-REF-42", True),
        ("M3-7001", True),
        ("SIM-0003", True),
        ("jane@example", True),  # part of an address: contains
        ("JANE@example.COM", True),  # a whole address: exact, any case (indexed)
        ("@example.com", True),
        ("ane@example.com", False),  # a whole address is not a substring search
        ("zzz", False),
    ],
)
def test_search_by_reference_erp_number_sku_and_email(client, viewer, query, expected):
    [record] = _stuck(
        IntegrationFactory(),
        reference="PS-REF-42",
        target_id="M3-7001",
        payload_in={"customer": {"email": "Jane@Example.com"}},
    )
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST), {"q": query})
    assert page.status_code == 200
    assert (f"/{record.pk}/change/" in page.text) is expected


def test_detail_shows_error_payloads_side_by_side_attempts_and_links(client, viewer):
    integration = IntegrationFactory()
    [record] = _stuck(
        integration, payload_in={"reference": "PS-REF-42"}, payload_out={"CUOR": "PS-REF-42"}
    )
    Link.objects.create(
        integration=integration, entity="customer", shop_id="7", erp_id="C000123", record=record
    )
    client.force_login(viewer)

    page = client.get(reverse("admin:integrations_syncrecord_change", args=[record.pk]))

    assert page.status_code == 200
    assert "line 1 sku &#x27;SIM-0003&#x27;: no ERP item" in page.text
    assert 'id="payloads"' in page.text and "CUOR" in page.text
    assert "C000123" in page.text


def test_dashboard_for_a_viewer_and_linked_from_the_index(client, viewer, django_user_model):
    _stuck(IntegrationFactory(slug="shop-a"), n=2)
    client.force_login(viewer)

    index = client.get(reverse("admin:index"))
    assert reverse("console_dashboard") in index.text
    page = client.get(reverse("console_dashboard"))
    assert page.status_code == 200
    assert "shop-a" in page.text
    assert "error_class=UnknownItem&amp;error_field=lines.1.sku" in page.text

    filtered = client.get(
        reverse(CHANGELIST),
        {
            "error_class": "UnknownItem",
            "error_field": "lines.1.sku",
            "status__in": "needs_attention,dead",
        },
    )
    assert filtered.status_code == 200
    assert "2 sync records" in filtered.text or "2 results" in filtered.text

    nobody = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(nobody)
    assert client.get(reverse("console_dashboard")).status_code == 403


def test_error_reason_and_flow_filters(client, viewer):
    integration = IntegrationFactory()
    stuck = _stuck(integration, n=2)
    _stuck(integration, error_field="CUOR")
    client.force_login(viewer)

    page = client.get(reverse(CHANGELIST))
    assert "UnknownItem @ lines.1.sku" in page.text and "UnknownItem @ CUOR" in page.text
    assert "?flow=test_noop" in page.text

    filtered = client.get(reverse(CHANGELIST), {"error": "UnknownItem @ lines.1.sku"})
    shown = {r.pk for r in filtered.context["cl"].result_list}
    assert shown == {r.pk for r in stuck}
