"""preview and dry_run as functions (the admin pages are in test_admin)."""

import pytest

from mappings.models import FieldMapping
from mappings.preview import dry_run, preview
from mappings.rates import FixedRates
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.mappings.conftest import make_order
from tests.mappings.factories import MappingSetFactory, order_head_set

pytestmark = pytest.mark.django_db


def line_set():
    mapping_set = MappingSetFactory(entity="order_line", operation="test.line")
    for target, source in (("ITNO", "sku"), ("ORQT", "quantity"), ("CUOR", "order.reference")):
        FieldMapping.objects.create(mapping_set=mapping_set, target_field=target, source=source)
    mapping_set.refresh_from_db()
    return mapping_set


def test_preview_of_a_line_set_maps_every_line():
    result = preview(line_set(), make_order(lines=3).model_dump(mode="json"))
    assert result.ok
    assert [o["ITNO"] for o in result.outputs] == ["SKU-1", "SKU-2", "SKU-3"]


def test_preview_of_a_line_set_names_the_line():
    order = make_order(lines=2).model_dump(mode="json")
    order["lines"][1]["sku"] = "A-VERY-LONG-SKU-CODE"
    result = preview(line_set(), order)
    assert [v.message for v in result.violations] == [
        "line 2: ITNO: value 'A-VERY-LONG-SKU-CODE' is 20 long, the limit is 15"
    ]


def test_preview_refuses_what_is_not_a_document():
    assert preview(line_set(), [1, 2]).error == "The document is not a JSON object."
    assert "needs an order with its lines" in preview(line_set(), {"sku": "x"}).error


def test_preview_uses_the_sets_preview_context_by_default():
    mapping_set = order_head_set()
    assert preview(mapping_set, make_order()).outputs[0]["CUNO"] == "C0001"
    assert not preview(mapping_set, make_order(), context={}).ok


def test_dry_run_only_reads_records_of_its_integration_and_direction():
    integration = IntegrationFactory()
    mapping_set = order_head_set(integration=integration)
    for reference, carrier in (("A", "Colissimo"), ("B", "UPS")):
        SyncRecordFactory(
            integration=integration,
            flow="order_to_cash",
            reference=reference,
            payload_in=make_order(reference=reference, carrier=carrier).model_dump(mode="json"),
        )
    SyncRecordFactory(flow="order_to_cash", payload_in={"other": "integration"})
    SyncRecordFactory(
        integration=integration, flow="order_status", direction="erp_to_shop", payload_in={}
    )
    report = dry_run(mapping_set, limit=10, rates=FixedRates({}))
    assert (report.total, report.failed, report.succeeded) == (2, 1, 1)
    assert report.reasons == {"MODL: value_map": 1}
    assert report.examples == {"MODL: value_map": ["B"]}
    assert dry_run(mapping_set, limit=1).total == 1
