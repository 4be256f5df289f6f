"""The admin: catalog choices, preview (record or pasted JSON), dry run, promote, copy,
history, and value-map / currency-rate import and export."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from mappings.models import CurrencyRate, FieldMapping, MappingSet, ValueMapEntry
from mappings.resources import CurrencyRateResource, ValueMapEntryResource
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.mappings.conftest import make_order
from tests.mappings.factories import order_head_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


def order_record(integration, reference="XKBKNABJK", **overrides):
    return SyncRecordFactory(
        integration=integration,
        flow="order_to_cash",
        direction="shop_to_erp",
        reference=reference,
        payload_in=make_order(reference=reference, **overrides).model_dump(mode="json"),
    )


def test_change_page_offers_catalog_fields_preview_and_help(staff):
    mapping_set = order_head_set()
    page = staff.get(reverse("admin:mappings_mappingset_change", args=[mapping_set.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk]) in html
    assert '<option value="CUOR" selected>CUOR (string, max 20)' in html
    assert "fit_lines(width=None, lines=None)" in html


def test_unknown_field_is_refused_in_the_inline(staff):
    mapping_set = order_head_set()
    url = reverse("admin:mappings_mappingset_change", args=[mapping_set.pk])
    data = form_data(mapping_set, {"CUOR": {"source": "reference["}})
    page = staff.post(url, data)
    assert page.status_code == 200
    assert "does not parse" in page.content.decode()
    data = form_data(mapping_set, {"CUOR": {"target_field": "NOPE"}})
    page = staff.post(url, data)
    assert (
        "Select a valid choice. NOPE is not one of the available choices." in page.content.decode()
    )


def test_preview_with_a_record_shows_output_and_errors(staff):
    integration = IntegrationFactory()
    mapping_set = order_head_set(integration=integration)
    good = order_record(integration)
    bad = order_record(integration, reference="PS-0001234567890123456789", carrier="UPS")
    url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
    page = staff.get(url)
    assert f"#{bad.pk} order_to_cash PS-0001234567890123456789" in page.content.decode()

    page = staff.post(url, {"record": str(good.pk), "context": '{"customer_number": "C1"}'})
    html = page.content.decode()
    assert "No problems: this record would map." in html
    assert "&quot;CUOR&quot;: &quot;XKBKNABJK&quot;" in html

    page = staff.post(url, {"record": str(bad.pk), "context": '{"customer_number": "C1"}'})
    html = page.content.decode()
    assert "CUOR: value &#x27;PS-0001234567890123456789&#x27; is 25 long, the limit is 20" in html
    assert "value map &#x27;carriers&#x27; has no entry for &#x27;UPS&#x27;" in html


def test_preview_with_pasted_json_and_bad_json(staff):
    mapping_set = order_head_set()
    url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
    document = json.dumps(make_order().model_dump(mode="json"))
    page = staff.post(url, {"document": document, "context": "{}"})
    assert "CUNO: required, but empty" in page.content.decode()
    page = staff.post(url, {"document": "{nope", "context": ""})
    assert "The document is not valid JSON" in page.content.decode()
    page = staff.post(url, {"document": "", "context": ""})
    assert "Pick a record or paste a document." in page.content.decode()


def test_dry_run_counts_failures_by_reason(staff):
    integration = IntegrationFactory()
    mapping_set = order_head_set(integration=integration)
    order_record(integration)
    order_record(integration, reference="R2", carrier="UPS")
    order_record(integration, reference="R3", carrier="UPS")
    SyncRecordFactory(integration=integration, flow="inventory", payload_in={"sku": "x"})
    page = staff.get(reverse("admin:mappings_mappingset_dry_run", args=[mapping_set.pk]))
    html = page.content.decode()
    assert "<strong>3</strong> records: 1 would map,\n    <strong>2</strong> would fail." in html
    assert "<td>MODL: value_map</td><td>2</td><td>R3, R2</td>" in html


def test_promote_makes_one_set_active(staff):
    integration = IntegrationFactory()
    old = order_head_set(integration=integration, active=True)
    new = order_head_set(integration=integration)
    template = order_head_set()
    url = reverse("admin:mappings_mappingset_changelist")
    staff.post(url, {"action": "promote", "_selected_action": [new.pk, template.pk]})
    old.refresh_from_db()
    new.refresh_from_db()
    template.refresh_from_db()
    assert (old.active, new.active, template.active) == (False, True, False)


def test_copy_as_draft(staff):
    mapping_set = order_head_set(name="head")
    mapping_set.rules.create(name="r", condition="`true`", assignments={"ORTP": "B2B"})
    url = reverse("admin:mappings_mappingset_changelist")
    staff.post(url, {"action": "copy_as_draft", "_selected_action": [mapping_set.pk]})
    staff.post(url, {"action": "copy_as_draft", "_selected_action": [mapping_set.pk]})
    drafts = MappingSet.objects.filter(name__startswith="head (draft")
    assert sorted(drafts.values_list("name", flat=True)) == ["head (draft 1)", "head (draft 2)"]
    assert drafts[0].fields.count() == 5
    assert drafts[0].rules.count() == 1
    assert mapping_set.fields.count() == 5


def test_history_page_and_revert(staff):
    mapping_set = order_head_set()
    row = mapping_set.fields.get(target_field="CUOR")
    row.transforms = "lower"
    row.save()
    first = row.history.earliest()
    url = reverse("admin:mappings_fieldmapping_simple_history", args=[row.pk, first.history_id])
    page = staff.get(url)
    assert page.status_code == 200
    page = staff.post(
        url, {**{k: v for k, v in _field_post(row, first.instance).items()}, "_save": "Revert"}
    )
    assert page.status_code == 302
    row.refresh_from_db()
    assert row.transforms == "strip | upper"


def _field_post(row, instance):
    return {
        "mapping_set": row.mapping_set_id,
        "position": instance.position,
        "target_field": instance.target_field,
        "source": instance.source,
        "transforms": instance.transforms,
        "default": instance.default,
        "condition": instance.condition,
        "note": instance.note,
    }


def test_value_map_entries_round_trip_through_csv():
    order_head_set()
    dataset = ValueMapEntryResource().export()
    csv = dataset.csv
    assert "carriers,Colissimo,COL" in csv
    csv += "carriers,DHL,DHL,\n"
    import tablib

    result = ValueMapEntryResource().import_data(
        tablib.Dataset().load(csv, format="csv"), dry_run=False
    )
    assert not result.has_errors()
    assert ValueMapEntry.objects.filter(value_map__name="carriers").count() == 2
    result = ValueMapEntryResource().import_data(
        tablib.Dataset().load(csv, format="csv"), dry_run=False
    )
    assert ValueMapEntry.objects.filter(value_map__name="carriers").count() == 2


def test_currency_rates_import_from_csv():
    import tablib

    csv = "date,from_currency,to_currency,rate,source\n2026-11-20,EUR,CHF,0.95,ECB\n2026-11-21,EUR,CHF,0.96,ECB\n"
    result = CurrencyRateResource().import_data(
        tablib.Dataset().load(csv, format="csv"), dry_run=False
    )
    assert not result.has_errors() and not result.has_validation_errors()
    assert CurrencyRate.objects.count() == 2
    csv = csv.replace("0.96", "0.97")
    CurrencyRateResource().import_data(tablib.Dataset().load(csv, format="csv"), dry_run=False)
    assert CurrencyRate.objects.get(date="2026-11-21").rate == Decimal("0.97")
    bad = "date,from_currency,to_currency,rate,source\n2026-11-22,euro,CHF,0.95,\n"
    result = CurrencyRateResource().import_data(
        tablib.Dataset().load(bad, format="csv"), dry_run=False
    )
    assert result.has_validation_errors()


def test_import_export_pages_render(staff):
    for name in ("mappings_valuemapentry", "mappings_currencyrate"):
        assert staff.get(reverse(f"admin:{name}_import")).status_code == 200
        assert staff.get(reverse(f"admin:{name}_changelist")).status_code == 200


def form_data(mapping_set: MappingSet, changes: dict) -> dict:
    """The change form as the browser would post it, with some field rows changed."""
    rows = list(mapping_set.fields.all())
    data = {
        "name": mapping_set.name,
        "integration": mapping_set.integration_id or "",
        "entity": mapping_set.entity,
        "direction": mapping_set.direction,
        "target_system": mapping_set.target_system,
        "operation": mapping_set.operation,
        "description": mapping_set.description,
        "preview_context": json.dumps(mapping_set.preview_context),
        "fields-TOTAL_FORMS": str(len(rows)),
        "fields-INITIAL_FORMS": str(len(rows)),
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
    }
    for index, row in enumerate(rows):
        values = {
            "id": row.pk,
            "mapping_set": mapping_set.pk,
            "position": row.position,
            "target_field": row.target_field,
            "source": row.source,
            "transforms": row.transforms,
            "default": row.default,
            "condition": row.condition,
            "note": row.note,
            **changes.get(row.target_field, {}),
        }
        data.update({f"fields-{index}-{k}": v for k, v in values.items()})
    return data


def test_saving_the_change_form_bumps_version_and_keeps_fields(staff):
    mapping_set = order_head_set()
    version = mapping_set.version
    url = reverse("admin:mappings_mappingset_change", args=[mapping_set.pk])
    page = staff.post(url, form_data(mapping_set, {"CUOR": {"transforms": "strip"}}))
    assert page.status_code == 302, page.content.decode()[:3000]
    mapping_set.refresh_from_db()
    assert mapping_set.version > version
    assert (
        FieldMapping.objects.get(mapping_set=mapping_set, target_field="CUOR").transforms == "strip"
    )


def test_preview_unsaved_changes_from_the_change_form(staff):
    integration = IntegrationFactory()
    mapping_set = order_head_set(integration=integration)
    order_record(integration)
    version = mapping_set.version
    url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
    data = form_data(
        mapping_set, {"CUOR": {"source": "join('', ['PS-ORDER-', reference, '-WEB'])"}}
    )
    page = staff.post(url, {**data, "_preview_draft": "1"})
    html = page.content.decode()
    assert "Unsaved changes" in html
    assert "CUOR: value &#x27;PS-ORDER-XKBKNABJK-WEB&#x27; is 22 long, the limit is 20" in html
    mapping_set.refresh_from_db()
    assert mapping_set.version == version
    assert mapping_set.fields.get(target_field="CUOR").source == "reference"

    # The draft rides along in the preview form: another preview keeps using it.
    draft = page.context["form"]["draft"].value()
    fixed = json.loads(draft)
    fixed["fields"][1]["transforms"] = "truncate"
    page = staff.post(
        url,
        {
            "document": "",
            "record": str(integration.records.first().pk),
            "context": '{"customer_number": "C1"}',
            "draft": json.dumps(fixed),
        },
    )
    html = page.content.decode()
    assert "No problems: this record would map." in html
    assert "PS-ORDER-XKBKNABJK-W" in html


def test_preview_unsaved_changes_reports_form_errors(staff):
    mapping_set = order_head_set()
    url = reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk])
    data = form_data(mapping_set, {"CUOR": {"transforms": "shout"}})
    html = staff.post(url, {**data, "_preview_draft": "1"}).content.decode()
    assert "fields row 2, transforms: step 1 (&#x27;shout&#x27;): unknown transform" in html


@pytest.mark.parametrize(
    "model", ["mappingset", "fieldmapping", "rule", "valuemap", "valuemapentry", "currencyrate"]
)
def test_every_admin_page_renders(staff, model):
    mapping_set = order_head_set()
    mapping_set.rules.create(name="r", condition="`true`", assignments={"ORTP": "B2B"})
    CurrencyRate.objects.create(date="2026-11-20", from_currency="EUR", to_currency="CHF", rate=1)
    obj = {
        "mappingset": mapping_set,
        "fieldmapping": mapping_set.fields.first(),
        "rule": mapping_set.rules.first(),
        "valuemap": ValueMapEntry.objects.first().value_map,
        "valuemapentry": ValueMapEntry.objects.first(),
        "currencyrate": CurrencyRate.objects.first(),
    }[model]
    for name, args in (
        ("changelist", []),
        ("add", []),
        ("change", [obj.pk]),
        ("history", [obj.pk]),
    ):
        page = staff.get(reverse(f"admin:mappings_{model}_{name}", args=args))
        assert page.status_code == 200, (model, name)


def test_a_new_set_saves_from_the_add_page(staff):
    data = {
        "name": "new head",
        "entity": "order_header",
        "direction": "shop_to_erp",
        "target_system": "tims",
        "operation": "test.head",
        "preview_context": "{}",
        "fields-TOTAL_FORMS": "1",
        "fields-INITIAL_FORMS": "0",
        "fields-0-position": "1",
        "fields-0-target_field": "NOPE",
        "fields-0-source": "reference",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
    }
    page = staff.post(reverse("admin:mappings_mappingset_add"), data)
    assert "Unknown target field &#x27;NOPE&#x27; for tims test.head" in page.content.decode()
    page = staff.post(
        reverse("admin:mappings_mappingset_add"), {**data, "fields-0-target_field": "CUOR"}
    )
    assert page.status_code == 302
    assert MappingSet.objects.get(name="new head").fields.get().target_field == "CUOR"
    page = staff.post(
        reverse("admin:mappings_mappingset_add"),
        {**data, "name": "x", "operation": "test.nope", "fields-0-target_field": "CUOR"},
    )
    assert "tims has no operation &#x27;test.nope&#x27;" in page.content.decode()
