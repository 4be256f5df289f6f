from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Link, PublishedStock, Status, SyncRecord
from tests.factories import IntegrationFactory, SyncRecordFactory

VIEW_PERMS = [
    "integrations.view_syncrecord",
    "integrations.view_link",
    "integrations.view_publishedstock",
    "integrations.view_integration",
    "connectors.view_connection",
    "mappings.view_mappingset",
]
OPERATOR_PERMS = [
    *VIEW_PERMS,
    "integrations.retry_syncrecord",
    "integrations.resolve_syncrecord",
]
ADMIN_PERMS = [
    *OPERATOR_PERMS,
    "connectors.add_connection",
    "connectors.change_connection",
    "integrations.add_integration",
    "integrations.change_integration",
    "mappings.add_mappingset",
    "mappings.change_mappingset",
    *(
        f"mappings.{action}_{model}"
        for model in ("fieldmapping", "rule", "valuemap", "valuemapentry")
        for action in ("view", "add", "change", "delete")
    ),
]


def make_user(username: str, perms: list[str]) -> User:
    user = User.objects.create_user(username=username, password="x")
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def token_client(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture(autouse=True)
def _api_settings(settings):
    settings.API_THROTTLE_RATE = "100000/min"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(db) -> APIClient:
    return token_client(make_user("viewer", VIEW_PERMS))


@pytest.fixture
def operator(db) -> APIClient:
    return token_client(make_user("operator", OPERATOR_PERMS))


@pytest.fixture
def admin_client_api(db) -> APIClient:
    return token_client(make_user("integration-admin", ADMIN_PERMS))


@pytest.fixture
def noperm(db) -> APIClient:
    return token_client(make_user("nobody", []))


def order_record(
    integration,
    *,
    shop_id: str,
    reference: str,
    total: str,
    currency="EUR",
    canonical_state="paid",
    status=Status.SUCCEEDED,
) -> SyncRecord:
    return SyncRecordFactory(
        integration=integration,
        flow="order_to_cash",
        source_id=shop_id,
        reference=reference,
        idempotency_key=f"prestashop:{shop_id}",
        status=status,
        payload_in={
            "id": shop_id,
            "reference": reference,
            "state": "2",
            "canonical_state": canonical_state,
            "currency": currency,
            "total_paid": total,
        },
    )


def order_link(integration, record, *, erp_id: str, invoices=(), payments=(), **data) -> Link:
    return Link.objects.create(
        integration=integration,
        entity="order",
        shop_id=record.source_id,
        erp_id=erp_id,
        record=record,
        data={
            "reference": record.reference,
            "erp_system": "infor_m3",
            "invoices": list(invoices),
            "payments": list(payments),
            **data,
        },
    )


@pytest.fixture
def order_world(db):
    """Two integrations' worth of orders in every state the reports look for."""
    integration = IntegrationFactory(slug="shop-a")
    today = timezone.localdate().isoformat()
    now = timezone.now()
    # 1. Fully through: shipped, invoiced and paid, amounts agree.
    r1 = order_record(integration, shop_id="1", reference="REFA", total="120.00")
    order_link(
        integration,
        r1,
        erp_id="M3-1",
        erp_state="shipped",
        shop_state="4",
        tracking={"number": "TRK1", "carrier": "DHL"},
        invoices=[{"number": "INV1", "date": today, "currency": "EUR", "total": "120.00"}],
        payments=[{"id": "P1", "amount": "120.00", "currency": "EUR", "paid_at": now.isoformat()}],
    )
    # 2. Invoiced for a different amount, paid in the shop, no ERP payment.
    r2 = order_record(integration, shop_id="2", reference="REFB", total="50.00")
    order_link(
        integration,
        r2,
        erp_id="M3-2",
        erp_state="processing",
        invoices=[{"number": "INV2", "date": today, "currency": "EUR", "total": "55.00"}],
    )
    # 3. Never reached the ERP.
    order_record(
        integration,
        shop_id="3",
        reference="REFC",
        total="10.00",
        currency="USD",
        status=Status.NEEDS_ATTENTION,
    )
    # 4. An ERP order with no shop order behind it (status_back could not find its link).
    SyncRecordFactory(
        integration=integration,
        flow="status_back",
        direction="erp_to_shop",
        source_system="infor_m3",
        source_id="M3-99",
        reference="",
        idempotency_key="infor_m3:M3-99:shipped",
        status=Status.NEEDS_ATTENTION,
        error_message="ERP order M3-99 is not linked to a shop order",
    )
    # 5. A shipment that went back to the shop for order 1.
    SyncRecordFactory(
        integration=integration,
        flow="status_back",
        direction="erp_to_shop",
        source_system="infor_m3",
        source_id="M3-1",
        idempotency_key="infor_m3:M3-1:shipped",
        status=Status.SUCCEEDED,
        finished_at=now,
        payload_out={"erp_state": "shipped"},
    )
    # Stock: one in line, one drifted, one unknown in the shop.
    PublishedStock.objects.create(
        integration=integration, sku="A", product_id="1", quantity=5, erp_quantity=Decimal(5)
    )
    PublishedStock.objects.create(
        integration=integration, sku="B", product_id="2", quantity=3, erp_quantity=Decimal(7)
    )
    PublishedStock.objects.create(
        integration=integration,
        sku="C",
        product_id="3",
        quantity=None,
        erp_quantity=Decimal(1),
        checked_at=now - timedelta(hours=1),
    )
    return integration
