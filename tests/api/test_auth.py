import pytest
from rest_framework.test import APIClient

from tests.api.conftest import make_user
from tests.factories import SyncRecordFactory

pytestmark = pytest.mark.django_db

READ_URLS = [
    "/api/v1/sync-records/",
    "/api/v1/reports/orders/",
    "/api/v1/reports/daily/",
    "/api/v1/reports/reconciliation/",
    "/api/v1/reports/inventory-drift/",
    "/api/v1/reports/health/",
    "/api/v1/connections/",
    "/api/v1/integrations/",
    "/api/v1/mapping-sets/",
    "/api/schema/",
    "/api/docs/",
]


@pytest.mark.parametrize("url", READ_URLS)
def test_anonymous_gets_401_with_a_reason(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    if url.startswith("/api/v1/"):
        body = response.json()
        assert body["message"] and "extra" in body


def test_bad_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/v1/sync-records/")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid token."


@pytest.mark.parametrize("url", [u for u in READ_URLS if u.startswith("/api/v1/")])
def test_user_without_view_permission_gets_403(noperm, url):
    response = noperm.get(url)
    assert response.status_code == 403
    assert set(response.json()) == {"message", "extra"}


@pytest.mark.parametrize("url", [u for u in READ_URLS if u.startswith("/api/v1/")])
def test_viewer_reads_everything(viewer, url):
    assert viewer.get(url).status_code == 200


def test_viewer_cannot_retry_or_resolve(viewer):
    record = SyncRecordFactory(status="needs_attention")
    assert viewer.post(f"/api/v1/sync-records/{record.pk}/retry/").status_code == 403
    response = viewer.post(f"/api/v1/sync-records/{record.pk}/resolve/", {"note": "x"})
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.status == "needs_attention"


def test_viewer_cannot_write_configuration(viewer):
    response = viewer.post("/api/v1/connections/", {"name": "x"}, format="json")
    assert response.status_code == 403


def test_session_login_works_for_staff():
    make_user("staff", ["integrations.view_syncrecord"])
    client = APIClient()
    assert client.login(username="staff", password="x")
    assert client.get("/api/v1/sync-records/").status_code == 200


def test_schema_and_docs_for_authenticated(viewer):
    schema = viewer.get("/api/schema/?format=json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/sync-records/{id}/retry/" in spec["paths"]
    docs = viewer.get("/api/docs/")
    assert docs.status_code == 200
    assert b"/api/v1/reports/daily/" in docs.content
    assert b"<script" not in docs.content


def test_throttled_per_token(settings, viewer):
    settings.API_THROTTLE_RATE = "2/min"
    assert viewer.get("/api/v1/sync-records/").status_code == 200
    assert viewer.get("/api/v1/sync-records/").status_code == 200
    response = viewer.get("/api/v1/sync-records/")
    assert response.status_code == 429
    assert response.json()["extra"]["retry_after_seconds"] >= 1


def test_schema_is_valid_openapi_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/reports/reconciliation/" in target.read_text()
