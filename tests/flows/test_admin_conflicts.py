"""The decisions a person takes on order records, from the SyncRecord admin."""

import pytest
from django.urls import reverse

from integrations.models import Link, Status
from tests.factories import SyncRecordFactory

pytestmark = pytest.mark.django_db


def conflict_record(**context):
    return SyncRecordFactory(
        flow="order_to_cash",
        status=Status.NEEDS_ATTENTION,
        error_field="customer.name",
        context={
            "customer_conflict": {
                "email": "ann@example.com",
                "erp_customer": {"number": "WEB0042", "name": "Ann Other"},
                "shop_customer": {"name": "Ann Shop"},
                "diff": [{"field": "name", "shop": "Ann Shop", "erp": "Ann Other"}],
            },
            **context,
        },
    )


def test_link_to_the_existing_erp_customer_from_the_changelist(admin_client):
    record = conflict_record()

    response = admin_client.post(
        reverse("admin:integrations_syncrecord_changelist"),
        {"action": "conflict_link_existing", "_selected_action": [record.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 record(s) linked and queued." in response.content.decode()
    record.refresh_from_db()
    assert record.status == Status.PENDING
    assert "customer_conflict" not in record.context
    assert record.context["customer_resolution"]["how"] == "linked existing"
    link = Link.objects.get(integration=record.integration, entity="customer")
    assert (link.shop_id, link.erp_id) == ("ann@example.com", "WEB0042")


def test_a_record_without_that_decision_is_left_alone_with_a_message(admin_client):
    record = SyncRecordFactory(flow="order_to_cash", status=Status.NEEDS_ATTENTION)

    response = admin_client.post(
        reverse("admin:integrations_syncrecord_changelist"),
        {"action": "approve_backorder", "_selected_action": [record.pk]},
        follow=True,
    )

    assert "not an order held for stock" in response.content.decode()
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION
