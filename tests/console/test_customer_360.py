"""The customer page: from a customer link, its ids, its orders with ERP numbers, and the
history of the records that carried them (a real order through the simulators)."""

import pytest
from django.urls import reverse

from integrations.models import Link, Status
from integrations.selectors_console import customer_360
from tests.e2e.conftest import place_and_sync

pytestmark = pytest.mark.django_db


def test_customer_360_of_a_synced_order(client, viewer, shop, m3, m3_integration):
    first = place_and_sync(shop, m3_integration)
    assert first.status == Status.SUCCEEDED, first.error_message
    customer = Link.objects.get(integration=m3_integration, entity="customer")
    erp_order = Link.objects.get(integration=m3_integration, entity="order").erp_id

    view = customer_360(link=customer)
    assert [row["record"].pk for row in view["orders"]] == [first.pk]
    assert view["orders"][0]["erp_number"] == erp_order
    assert customer in view["links"]
    assert view["history"] and view["history"][0].record_id == first.pk

    client.force_login(viewer)
    page = client.get(reverse("console_customer", args=[customer.pk]))
    assert page.status_code == 200
    assert erp_order in page.text and first.reference in page.text
    detail = client.get(reverse("admin:integrations_syncrecord_change", args=[first.pk]))
    if customer.record_id == first.pk:
        assert reverse("console_customer", args=[customer.pk]) in detail.text


def test_only_customer_links_have_a_360_page(client, viewer, shop, m3, m3_integration):
    place_and_sync(shop, m3_integration)
    order = Link.objects.get(integration=m3_integration, entity="order")
    client.force_login(viewer)
    assert client.get(reverse("console_customer", args=[order.pk])).status_code == 404
