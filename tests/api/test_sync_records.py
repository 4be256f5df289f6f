import pytest
from django.utils import timezone

from integrations.models import SyncRecord
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db


def test_list_filters(viewer):
    integration = IntegrationFactory(slug="shop-x")
    a = SyncRecordFactory(integration=integration, status="needs_attention", reference="R-1")
    SyncRecordFactory(integration=integration, status="succeeded", flow="status_back")
    SyncRecordFactory(status="succeeded")
    body = viewer.get("/api/v1/sync-records/", {"status": "needs_attention"}).json()
    assert [r["id"] for r in body["results"]] == [a.pk]
    assert body["results"][0]["integration"] == "shop-x"
    assert "payload_in" not in body["results"][0]
    assert len(viewer.get("/api/v1/sync-records/", {"flow": "status_back"}).json()["results"]) == 1
    by_ref = viewer.get("/api/v1/sync-records/", {"reference": "R-1"}).json()["results"]
    assert [r["id"] for r in by_ref] == [a.pk]
    today = timezone.localdate().isoformat()
    assert len(viewer.get("/api/v1/sync-records/", {"date": today}).json()["results"]) == 3
    both = viewer.get("/api/v1/sync-records/?status=needs_attention&status=succeeded").json()
    assert len(both["results"]) == 3
    scoped = viewer.get("/api/v1/sync-records/", {"integration": "shop-x"}).json()
    assert len(scoped["results"]) == 2


def test_cursor_pagination(viewer):
    SyncRecordFactory.create_batch(5)
    first = viewer.get("/api/v1/sync-records/", {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = viewer.get(first["next"]).json()
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"date": "yesterday"},
        {"created_after": "not-a-date"},
        {"page_size": "lots"},
    ],
)
def test_bad_query_parameters_are_400_not_500(viewer, params):
    response = viewer.get("/api/v1/sync-records/", params)
    assert response.status_code in (200, 400)
    if params != {"page_size": "lots"}:  # DRF falls back to the default page size
        assert response.status_code == 400
        body = response.json()
        assert body["message"] and body["extra"]["fields"]


def test_bad_cursor_is_404_json(viewer):
    response = viewer.get("/api/v1/sync-records/", {"cursor": "garbage"})
    assert response.status_code == 404
    assert response.json()["message"] == "Invalid cursor"


def test_detail_and_missing(viewer):
    record = SyncRecordFactory(payload_in={"a": 1})
    body = viewer.get(f"/api/v1/sync-records/{record.pk}/").json()
    assert body["payload_in"] == {"a": 1}
    missing = viewer.get("/api/v1/sync-records/999999/")
    assert missing.status_code == 404
    assert set(missing.json()) == {"message", "extra"}


def test_csv_export(viewer):
    SyncRecordFactory(reference="=HYPERLINK(1)")
    response = viewer.get("/api/v1/sync-records/", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("id,integration,flow")
    assert "'=HYPERLINK(1)" in lines[1]


def test_retry_is_idempotent(operator, django_capture_on_commit_callbacks):
    record = SyncRecordFactory(status="needs_attention", failures=3)
    url = f"/api/v1/sync-records/{record.pk}/retry/"
    with django_capture_on_commit_callbacks(execute=False):
        first = operator.post(url)
    assert first.status_code == 200
    assert first.json()["changed"] is True
    assert first.json()["record"]["status"] == "pending"
    with django_capture_on_commit_callbacks(execute=False):
        second = operator.post(url)
    assert second.status_code == 200
    assert second.json()["changed"] is False
    assert SyncRecord.objects.get(pk=record.pk).failures == 0


def test_retry_missing_record_404(operator):
    assert operator.post("/api/v1/sync-records/424242/retry/").status_code == 404


def test_resolve_needs_a_note_and_is_idempotent(operator):
    record = SyncRecordFactory(status="needs_attention")
    url = f"/api/v1/sync-records/{record.pk}/resolve/"
    missing_note = operator.post(url, {}, format="json")
    assert missing_note.status_code == 400
    assert "note" in missing_note.json()["extra"]["fields"]
    first = operator.post(url, {"note": "fixed in M3 by hand"}, format="json")
    assert first.status_code == 200 and first.json()["changed"] is True
    assert first.json()["record"]["status"] == "succeeded"
    again = operator.post(url, {"note": "fixed in M3 by hand"}, format="json")
    assert again.status_code == 200 and again.json()["changed"] is False


def test_resolve_running_record_is_409(operator):
    record = SyncRecordFactory(status="pending")
    response = operator.post(
        f"/api/v1/sync-records/{record.pk}/resolve/", {"note": "x"}, format="json"
    )
    assert response.status_code == 409
    assert "only records" in response.json()["message"]


@pytest.mark.parametrize(
    "value", ["1586-04-03T10:23:39-21:57", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59"]
)
def test_out_of_range_datetimes_are_400(viewer, value):
    response = viewer.get("/api/v1/sync-records/", {"created_after": value})
    assert response.status_code == 400
    assert "created_after" in response.json()["extra"]["fields"]
    # The connection is still usable afterwards (nothing reached the database).
    assert viewer.get("/api/v1/sync-records/").status_code == 200
