import pytest

from connectors.models import Connection
from tests.factories import ConnectionFactory, IntegrationFactory

pytestmark = pytest.mark.django_db


def test_credentials_are_write_only(admin_client_api, viewer):
    response = admin_client_api.post(
        "/api/v1/connections/",
        {
            "system": "prestashop",
            "name": "Shop",
            "base_url": "https://shop.example.com/api",
            "credentials": {"api_key": "SECRET-KEY"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "credentials" not in response.json()
    assert response.json()["credential_names"] == ["api_key"]
    pk = response.json()["id"]
    assert Connection.objects.get(pk=pk).credentials == {"api_key": "SECRET-KEY"}
    for client in (admin_client_api, viewer):
        assert b"SECRET-KEY" not in client.get(f"/api/v1/connections/{pk}/").content
        assert b"SECRET-KEY" not in client.get("/api/v1/connections/").content
    # A change without credentials keeps them.
    patch = admin_client_api.patch(f"/api/v1/connections/{pk}/", {"name": "Shop 2"}, format="json")
    assert patch.status_code == 200
    assert Connection.objects.get(pk=pk).credentials == {"api_key": "SECRET-KEY"}


def test_connection_validation_is_400(admin_client_api):
    response = admin_client_api.post(
        "/api/v1/connections/", {"system": "sap", "name": ""}, format="json"
    )
    assert response.status_code == 400
    assert {"system", "name", "base_url"} <= set(response.json()["extra"]["fields"])


def test_integration_secrets_write_only_and_admin_only(admin_client_api, viewer):
    shop = ConnectionFactory(system="prestashop")
    erp = ConnectionFactory(system="infor_m3")
    payload = {
        "slug": "new-shop",
        "name": "New shop",
        "shop_connection": shop.pk,
        "erp_connection": erp.pk,
        "webhook_secrets": {"prestashop": ["whsec_abc"]},
    }
    assert viewer.post("/api/v1/integrations/", payload, format="json").status_code == 403
    response = admin_client_api.post("/api/v1/integrations/", payload, format="json")
    assert response.status_code == 201, response.content
    assert "webhook_secrets" not in response.json()
    swapped = admin_client_api.post(
        "/api/v1/integrations/",
        {**payload, "slug": "other", "shop_connection": erp.pk},
        format="json",
    )
    assert swapped.status_code == 400


def test_mapping_sets_read_and_write(admin_client_api, viewer):
    integration = IntegrationFactory(slug="m")
    body = {
        "name": "Orders",
        "integration": "m",
        "entity": "order_header",
        "target_system": "infor_m3",
        "operation": "OIS100MI.AddBatchHead",
    }
    assert viewer.post("/api/v1/mapping-sets/", body, format="json").status_code == 403
    created = admin_client_api.post("/api/v1/mapping-sets/", body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    listed = viewer.get("/api/v1/mapping-sets/").json()["results"]
    assert [m["id"] for m in listed] == [pk]
    dup = admin_client_api.post("/api/v1/mapping-sets/", body, format="json")
    assert dup.status_code in (400, 409)
    assert dup.json()["message"]
    assert integration.mapping_sets.count() == 1
