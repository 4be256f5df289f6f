"""Mapping rows over the API (configuration as code): validated as an admin save, by role."""

import pytest

from mappings.models import FieldMapping, MappingSet, Rule, ValueMap, ValueMapEntry
from tests.api.conftest import VIEW_PERMS, make_user, token_client
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

ROW_VIEW = [
    "mappings.view_fieldmapping",
    "mappings.view_rule",
    "mappings.view_valuemap",
    "mappings.view_valuemapentry",
]
ROW_EDIT = [
    f"mappings.{action}_{model}"
    for action in ("add", "change", "delete")
    for model in ("fieldmapping", "rule", "valuemap", "valuemapentry")
]


@pytest.fixture
def row_admin(db):
    return token_client(make_user("rows-admin", [*VIEW_PERMS, *ROW_VIEW, *ROW_EDIT]))


@pytest.fixture
def row_viewer(db):
    return token_client(make_user("rows-viewer", [*VIEW_PERMS, *ROW_VIEW]))


@pytest.fixture
def mapping_set(db) -> MappingSet:
    return MappingSet.objects.create(
        name="Orders",
        integration=IntegrationFactory(slug="rows"),
        entity="order_header",
        target_system="infor_m3",
        operation="OIS100MI.AddBatchHead",
    )


def fields_url(mapping_set: MappingSet, pk: int | None = None) -> str:
    base = f"/api/v1/mapping-sets/{mapping_set.pk}/fields/"
    return base if pk is None else f"{base}{pk}/"


def test_field_mapping_crud_bumps_the_set_version(row_admin, row_viewer, mapping_set):
    version = mapping_set.version
    body = {"target_field": "CUNO", "source": "customer.email", "transforms": "strip | upper"}
    created = row_admin.post(fields_url(mapping_set), body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["mapping_set"] == mapping_set.pk
    assert created.json()["owner"] == "erp"
    mapping_set.refresh_from_db()
    assert mapping_set.version > version  # the engine recompiles (mappings.signals)
    listed = row_viewer.get(fields_url(mapping_set)).json()["results"]
    assert [f["target_field"] for f in listed] == ["CUNO"]
    patched = row_admin.patch(fields_url(mapping_set, pk), {"source": "customer.id"}, format="json")
    assert patched.status_code == 200, patched.content
    assert FieldMapping.objects.get(pk=pk).source == "customer.id"
    assert row_admin.delete(fields_url(mapping_set, pk)).status_code == 204
    assert not FieldMapping.objects.filter(pk=pk).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_field": "NOPE", "source": "reference"}, "target_field"),  # not in the catalog
        ({"target_field": "CUNO", "source": "customer.["}, "source"),  # JMESPath does not parse
        ({"target_field": "CUNO", "source": "x", "transforms": "frobnicate"}, "transforms"),
        ({"target_field": "CUNO", "transforms": 'value_map("missing")'}, "transforms"),
        ({"target_field": "CUNO"}, "source"),  # neither source, default nor transform
        ({"target_field": "CUNO", "source": "x", "owner": "both"}, "owner"),
    ],
)
def test_field_mapping_refused_as_the_admin_refuses(row_admin, mapping_set, body, field):
    response = row_admin.post(fields_url(mapping_set), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert response.json()["message"]
    assert not mapping_set.fields.exists()


def test_a_patch_is_validated_as_the_whole_row(row_admin, mapping_set):
    row = FieldMapping.objects.create(mapping_set=mapping_set, target_field="CUNO", source="x")
    response = row_admin.patch(fields_url(mapping_set, row.pk), {"source": ""}, format="json")
    assert response.status_code == 400  # no source, default or transform left
    assert FieldMapping.objects.get(pk=row.pk).source == "x"


def test_rows_are_scoped_to_the_set_in_the_url(row_admin, mapping_set):
    other = MappingSet.objects.create(
        name="Other",
        entity="order_header",
        target_system="infor_m3",
        operation="OIS100MI.AddBatchHead",
    )
    row = FieldMapping.objects.create(mapping_set=other, target_field="CUNO", source="x")
    assert row_admin.get(fields_url(mapping_set, row.pk)).status_code == 404
    assert row_admin.delete(fields_url(mapping_set, row.pk)).status_code == 404
    # The body cannot move a row to another set.
    created = row_admin.post(
        fields_url(mapping_set),
        {"target_field": "CUNO", "source": "x", "mapping_set": other.pk},
        format="json",
    )
    assert created.status_code == 201
    assert FieldMapping.objects.get(pk=created.json()["id"]).mapping_set_id == mapping_set.pk
    assert row_admin.get("/api/v1/mapping-sets/999999/fields/").status_code == 404
    assert row_admin.get("/api/v1/mapping-sets/abc/fields/").json()["message"]


def test_rules(row_admin, mapping_set):
    url = f"/api/v1/mapping-sets/{mapping_set.pk}/rules/"
    body = {"name": "B2B", "condition": "customer.group == 'B2B'", "assignments": {"ORTP": "B2B"}}
    created = row_admin.post(url, body, format="json")
    assert created.status_code == 201, created.content
    assert Rule.objects.get(pk=created.json()["id"]).assignments == {"ORTP": "B2B"}
    bad = row_admin.post(url, {**body, "assignments": {"NOPE": "1"}}, format="json")
    assert bad.status_code == 400 and "assignments" in bad.json()["extra"]["fields"]
    nested = row_admin.post(url, {**body, "assignments": {"ORTP": {"a": 1}}}, format="json")
    assert nested.status_code == 400
    no_condition = row_admin.post(url, {**body, "condition": ""}, format="json")
    assert no_condition.status_code == 400
    pk = created.json()["id"]
    assert row_admin.delete(f"{url}{pk}/").status_code == 204


def test_value_maps_and_entries(row_admin, row_viewer, mapping_set):
    created = row_admin.post(
        "/api/v1/value-maps/", {"name": "carriers", "has_fallback": False}, format="json"
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    entries = f"/api/v1/value-maps/{pk}/entries/"
    one = row_admin.post(entries, {"source_value": "DHL", "target_value": "D01"}, format="json")
    assert one.status_code == 201, one.content
    dup = row_admin.post(entries, {"source_value": "DHL", "target_value": "D02"}, format="json")
    assert dup.status_code == 400 and dup.json()["message"]
    assert ValueMapEntry.objects.filter(value_map_id=pk).count() == 1
    assert row_viewer.get(f"/api/v1/value-maps/{pk}/").json()["entry_count"] == 1
    bad_name = row_admin.post("/api/v1/value-maps/", {"name": "not a slug"}, format="json")
    assert bad_name.status_code == 400 and "name" in bad_name.json()["extra"]["fields"]
    # A value map a field mapping uses cannot go; once unused it can.
    used = FieldMapping.objects.create(
        mapping_set=mapping_set,
        target_field="MODL",
        source="carrier",
        transforms='value_map("carriers")',
    )
    refused = row_admin.delete(f"/api/v1/value-maps/{pk}/")
    assert refused.status_code == 409
    assert refused.json()["extra"]["field_mappings"] == [used.pk]
    used.delete()
    assert row_admin.delete(f"/api/v1/value-maps/{pk}/").status_code == 204
    assert not ValueMap.objects.filter(pk=pk).exists()


def test_roles(mapping_set):
    from django.contrib.auth.models import Group

    def member(role: str):
        user = make_user(role.lower().replace(" ", "-"), [])
        user.groups.add(Group.objects.get(name=role))
        return token_client(user)

    body = {"target_field": "CUNO", "source": "reference"}
    for role in ("Viewer", "Operator"):
        client = member(role)
        assert client.get(fields_url(mapping_set)).status_code == 200
        assert client.post(fields_url(mapping_set), body, format="json").status_code == 403
        assert client.get("/api/v1/value-maps/").status_code == 200
        assert client.post("/api/v1/value-maps/", {"name": "x"}, format="json").status_code == 403
    admin = member("Integration admin")
    assert admin.post(fields_url(mapping_set), body, format="json").status_code == 201
    assert admin.post("/api/v1/value-maps/", {"name": "x"}, format="json").status_code == 201


def test_mapping_set_operation_is_checked_against_the_catalog(admin_client_api):
    IntegrationFactory(slug="cat")
    response = admin_client_api.post(
        "/api/v1/mapping-sets/",
        {
            "name": "Orders",
            "integration": "cat",
            "entity": "order_header",
            "target_system": "infor_m3",
            "operation": "OIS100MI.NoSuchThing",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "operation" in response.json()["extra"]["fields"]
