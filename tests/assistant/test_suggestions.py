"""Mapping suggestions: value shapes, names, history, stored records, held-out defaults."""

from decimal import Decimal

import pytest

from connectors.catalog import Catalog, FieldType, TargetField
from mappings import catalogs, engine
from mappings.models import FieldMapping, MappingSet
from mappings.suggestions import (
    evaluate_defaults,
    mapping_set_suggestions,
    observe,
    rank,
    sample_documents,
    value_kind,
)
from tests.factories import IntegrationFactory, SyncRecordFactory

M3_HEAD = ("infor_m3", "OIS100MI.AddBatchHead")
LOYALTY = Catalog(
    "tims",
    "assistant.test",
    (
        TargetField("XLOY", FieldType.STRING, max_length=12, description="Loyalty card"),
        TargetField("XQTY", FieldType.NUMBER, max_length=15, decimals=6),
    ),
)


@pytest.fixture
def loyalty_catalog():
    catalogs.register(LOYALTY)
    engine.clear_cache()
    yield LOYALTY
    catalogs.unregister(LOYALTY)
    engine.clear_cache()


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("4006381333931", "ean13"),
        ("4006381333932", "int"),  # wrong check digit: just a number
        ("ada@example.com", "email"),
        ("FR", "country"),
        ("EUR", "currency"),
        ("2026-11-20T09:30:00Z", "datetime"),
        ("2026-11-20", "date"),
        ("12.50", "decimal"),
        (Decimal("1.5"), "decimal"),
        ("42", "int"),
        ("+33 1 42 68 53 00", "phone"),
        ("ART-1001", "code"),
        ("Stainless steel bolt", "text"),
        ("", "empty"),
        (True, "bool"),
    ],
)
def test_value_kind(value, kind):
    assert value_kind(value) == kind


def _target(name: str):
    return catalogs.get_catalog(*M3_HEAD).get(name)


def test_cuor_is_suggested_from_the_reference_with_reasons():
    observed = observe("order_header", sample_documents("order_header"))
    ranked = rank(_target("CUOR"), observed)
    assert ranked[0].source == "reference"
    assert len(ranked) == 3
    assert any("synonym" in reason for reason in ranked[0].reasons)
    assert any(reason.startswith("shape") for reason in ranked[0].reasons)
    assert ranked[0].samples


def test_shape_alone_finds_the_email_and_the_currency():
    customer = catalogs.get_catalog("infor_m3", "CRS610MI.Add")
    observed = observe("customer", sample_documents("customer"))
    mail = rank(customer.get("MAIL"), observed, use_synonyms=False)
    assert mail[0].source == "email"
    head = observe("order_header", sample_documents("order_header"))
    currency = rank(_target("CUCD"), head, use_synonyms=False)
    assert currency[0].source == "currency"


def test_raw_custom_fields_are_candidates(loyalty_catalog):
    observed = observe("order_header", [{"reference": "A", "raw": {"loyalty_card": "LC-0042"}}])
    assert "raw.loyalty_card" in observed.paths()
    assert rank(LOYALTY.get("XLOY"), observed)[0].source == "raw.loyalty_card"


def test_order_lines_see_their_own_fields_and_the_order():
    observed = observe("order_line", sample_documents("order_line"))
    paths = observed.paths()
    assert "sku" in paths and "order.reference" in paths and "context.order_number" in paths
    line = catalogs.get_catalog("infor_m3", "OIS100MI.AddBatchLine")
    assert rank(line.get("ITNO"), observed)[0].source == "sku"
    assert rank(line.get("ORQT"), observed)[0].source == "quantity"


def test_history_of_other_sets_decides_between_equals(loyalty_catalog):
    observed = observe("order_header", [{"raw": {"card_a": "LC-1", "card_b": "LC-1"}}])
    target = LOYALTY.get("XLOY")
    without = rank(target, observed)
    with_history = rank(target, observed, history={"raw.card_b": 2.0})
    assert without[0].source == "raw.card_a"
    assert with_history[0].source == "raw.card_b"
    assert any(reason.startswith("history") for reason in with_history[0].reasons)


@pytest.mark.django_db
def test_stored_records_values_pick_the_source(loyalty_catalog):
    integration = IntegrationFactory()
    mapping_set = MappingSet.objects.create(
        name="loyalty",
        integration=integration,
        entity="order_header",
        target_system="tims",
        operation="assistant.test",
    )
    for n in range(3):
        SyncRecordFactory(
            integration=integration,
            flow="order_to_cash",
            payload_in={"reference": f"R{n}", "raw": {"card": f"C{n}", "other": f"X{n}"}},
            payload_out={"head": {"XLOY": f"C{n}"}},
        )
    found, origin = mapping_set_suggestions(mapping_set=mapping_set)
    assert origin == "3 stored records"
    assert found["XLOY"][0].source == "raw.card"
    assert any("3/3 stored records" in reason for reason in found["XLOY"][0].reasons)


@pytest.mark.django_db
def test_only_unmapped_fields_get_suggestions_and_history_comes_from_other_sets():
    template = MappingSet.objects.create(
        name="other", entity="order_header", target_system=M3_HEAD[0], operation=M3_HEAD[1]
    )
    FieldMapping.objects.create(mapping_set=template, target_field="CUOR", source="id")
    mapping_set = MappingSet.objects.create(
        name="mine", entity="order_header", target_system=M3_HEAD[0], operation=M3_HEAD[1]
    )
    FieldMapping.objects.create(mapping_set=mapping_set, target_field="CUCD", source="currency")
    found, origin = mapping_set_suggestions(mapping_set=mapping_set, limit=100)
    assert origin == "sample documents"
    assert "CUCD" not in found and "CUOR" in found
    cuor = {s.source: s for s in found["CUOR"]}
    assert "id" in cuor
    assert any(reason.startswith("history") for reason in cuor["id"].reasons)


def test_held_out_defaults_are_ranked_well():
    result = evaluate_defaults()
    assert result["cases"] >= 30
    assert result["top1_accuracy"] >= 0.9
    assert result["top3_accuracy"] >= 0.95
    # Without the synonym table the words and shapes alone still find most of them.
    assert evaluate_defaults(use_synonyms=False, use_history=False)["top3_accuracy"] >= 0.6
