"""The engine: payloads, every violation listed with field + value + rule, rules, lines,
and the compile-once cache."""

import re
from datetime import date
from decimal import Decimal

import pytest

from connectors.errors import DataError, PermanentError
from mappings import engine
from mappings.engine import MappingFailed, compile_definition, map_document, map_lines
from mappings.models import CurrencyRate, FieldMapping, Rule, ValueMapEntry
from mappings.rates import DatabaseRates, FixedRates
from mappings.transforms import ValueTable
from tests.mappings.conftest import HEAD, LINE, SYSTEM, head_definition, make_order
from tests.mappings.factories import order_head_set

NO_RATES = FixedRates({})
MAPS = {"carriers": ValueTable.build("carriers", {"Colissimo": "COL"})}


def compile_head(fields, rules=(), maps=MAPS):
    return compile_definition(head_definition(fields, rules), value_maps=maps, catalog=HEAD)


def map_head(fields, rules=(), order=None, context=None):
    compiled = compile_head(fields, rules)
    return map_document(
        compiled,
        order or make_order(),
        context=context or {"customer_number": "C1"},
        rates=NO_RATES,
    )


CUNO = {"target": "CUNO", "source": "context.customer_number"}


def test_maps_and_coerces_to_the_catalog_types():
    payload = map_head(
        [
            CUNO,
            {"target": "CUOR", "source": "reference"},
            {"target": "ORDT", "source": "placed_at"},
            {"target": "TOPY", "source": "total_paid"},
            {"target": "NRLN", "source": "length(lines)"},
            {"target": "GIFT", "source": "raw.gift"},
            {"target": "MODL", "source": "carrier", "transforms": "value_map('carriers')"},
            {"target": "CUA1", "source": "raw.absent"},
        ]
    )
    assert payload == {
        "CUNO": "C1",
        "CUOR": "XKBKNABJK",
        "ORDT": date(2026, 11, 20),
        "TOPY": Decimal("30.00"),
        "NRLN": 2,
        "GIFT": True,
        "MODL": "COL",
    }


def test_accepts_a_plain_dict_document():
    payload = map_document(
        compile_head([CUNO]), {"context": {}}, context={"customer_number": "C9"}, rates=NO_RATES
    )
    assert payload == {"CUNO": "C9"}


def test_over_long_value_names_field_value_and_limit():
    assert map_head(
        [CUNO, {"target": "CUOR", "source": "join('', ['PS-000123-', reference, 'X'])"}]
    )
    with pytest.raises(MappingFailed) as caught:
        map_head([CUNO, {"target": "CUOR", "source": "join('', ['PS-000123-', reference, 'XYZ'])"}])
    error = caught.value
    assert "CUOR: value 'PS-000123-XKBKNABJKXYZ' is 22 long, the limit is 20" in error.message
    assert error.field == "CUOR"
    assert error.violations[0].rule == "max_length"
    assert isinstance(error, DataError)


def test_every_violation_is_listed_not_just_the_first():
    with pytest.raises(MappingFailed) as caught:
        map_head(
            [
                {"target": "CUOR", "source": "join('', [reference, reference, reference])"},
                {"target": "TOPY", "source": "note", "default": "twelve"},
                {"target": "ORTP", "default": "ZZZ"},
                {"target": "NRLN", "default": "2.5"},
                {"target": "ORDT", "default": "someday"},
                {
                    "target": "MODL",
                    "source": "payment_method",
                    "transforms": "value_map('carriers')",
                },
            ],
            context={},
        )
    error = caught.value
    rules = {v.field: v.rule for v in error.violations}
    assert rules == {
        "CUNO": "required",
        "CUOR": "max_length",
        "TOPY": "type",
        "ORTP": "allowed_values",
        "NRLN": "type",
        "ORDT": "type",
        "MODL": "value_map",
    }
    assert "7 problems" in error.message
    assert "CUNO: required, but empty" in error.message
    assert "TOPY: value 'twelve' is not a number" in error.message
    assert "ORTP: value 'ZZZ' is not allowed; allowed: A01, B2B, EXP" in error.message
    assert "MODL: value map 'carriers' has no entry for 'ps_wirepayment'" in error.message
    assert error.details["violations"][0]["field"]


def test_decimals_and_digits_of_numbers_are_checked():
    with pytest.raises(
        MappingFailed, match=re.escape("TOPY: value '1.234' has 3 decimals, the limit is 2")
    ):
        map_head([CUNO, {"target": "TOPY", "default": "1.234"}])
    with pytest.raises(MappingFailed, match="NRLN: value '1234' has 4 digits, the limit is 3"):
        map_head([CUNO, {"target": "NRLN", "default": "1234"}])
    payload = map_head([CUNO, {"target": "TOPY", "default": "1.230000"}])
    assert payload["TOPY"] == Decimal("1.230000")


def test_a_list_for_a_single_value_field_is_a_type_error():
    with pytest.raises(MappingFailed, match=r"CUA1: value .* is a list, not one value"):
        map_head([CUNO, {"target": "CUA1", "source": "lines[*].sku"}])


def test_required_mapping_flag_adds_to_the_catalog():
    with pytest.raises(MappingFailed, match="YREF: required, but empty"):
        map_head([CUNO, {"target": "YREF", "source": "note", "required": True}])


def test_condition_skips_a_field():
    fields = [
        CUNO,
        {"target": "ORTP", "default": "EXP", "condition": "shipping_address.country != 'FR'"},
    ]
    assert "ORTP" not in map_head(fields)
    assert (
        map_head(
            fields,
            order=make_order(
                shipping_address=make_order().shipping_address.model_copy(update={"country": "CH"})
            ),
        )["ORTP"]
        == "EXP"
    )


def test_rules_set_and_enrich():
    fields = [CUNO, {"target": "ORTP", "default": "A01"}]
    rules = [
        {"name": "B2B", "condition": "customer.group == 'B2B'", "assignments": {"ORTP": "B2B"}},
        {
            "name": "ref",
            "condition": "`true`",
            "assignments": {"YREF": "P-7", "ORTP": "EXP"},
            "mode": "enrich",
        },
        {"name": "off", "condition": "`true`", "assignments": {"CUCD": "XXX"}, "active": False},
    ]
    b2c = map_head(fields, rules)
    assert (b2c["ORTP"], b2c["YREF"]) == ("A01", "P-7")
    assert "CUCD" not in b2c
    b2b_customer = make_order().customer.model_copy(update={"group": "B2B"})
    assert map_head(fields, rules, order=make_order(customer=b2b_customer))["ORTP"] == "B2B"


def test_rule_values_are_validated_too():
    rules = [{"name": "bad", "condition": "`true`", "assignments": {"ORTP": "B2"}}]
    with pytest.raises(MappingFailed, match="ORTP: value 'B2' is not allowed"):
        map_head([CUNO], rules)


def test_runtime_expression_error_is_a_violation():
    with pytest.raises(MappingFailed, match="YREF") as caught:
        map_head([CUNO, {"target": "YREF", "source": "join(', ', lines)"}])
    assert caught.value.violations[0].rule == "expression"


def test_unknown_target_field_is_refused_at_compile():
    with pytest.raises(DataError, match="Unknown target field 'NOPE'"):
        compile_head([{"target": "NOPE", "source": "reference"}])


def test_bad_expression_and_chain_are_refused_at_compile():
    with pytest.raises(DataError, match="does not parse"):
        compile_head([{"target": "CUOR", "source": "reference["}])
    with pytest.raises(DataError, match="unknown transform"):
        compile_head([{"target": "CUOR", "source": "reference", "transforms": "shout"}])
    with pytest.raises(DataError, match="value map 'nope'"):
        compile_head([{"target": "CUOR", "source": "reference", "transforms": "value_map('nope')"}])


def test_without_a_catalog_only_required_mappings_are_checked():
    definition = head_definition(
        [
            {"target": "anything", "source": "reference"},
            {"target": "x", "source": "note", "required": True},
        ]
    )
    compiled = compile_definition(definition, value_maps={}, catalog=None)
    with pytest.raises(MappingFailed, match="x: required"):
        map_document(compiled, make_order(), rates=NO_RATES)


def test_lines_see_their_order_and_violations_name_the_line():
    definition = {
        "name": "lines",
        "entity": "order_line",
        "target_system": SYSTEM,
        "operation": "test.line",
        "fields": [
            {"target": "ITNO", "source": "sku"},
            {"target": "ORQT", "source": "quantity"},
            {"target": "SAPR", "source": "unit_price", "transforms": "currency_convert('CHF')"},
            {"target": "CUOR", "source": "order.reference"},
        ],
    }
    compiled = compile_definition(definition, value_maps={}, catalog=LINE)
    rates = FixedRates({(date(2026, 11, 20), "EUR", "CHF"): Decimal("0.95")})
    payloads = map_lines(compiled, make_order(lines=3), rates=rates)
    assert [p["ITNO"] for p in payloads] == ["SKU-1", "SKU-2", "SKU-3"]
    assert payloads[0]["SAPR"] == Decimal("11.8750")
    assert payloads[2]["CUOR"] == "XKBKNABJK"
    with pytest.raises(MappingFailed) as caught:
        map_lines(compiled, make_order(lines=2), rates=NO_RATES)
    messages = [v.message for v in caught.value.violations]
    assert messages[0].startswith("line 1: SAPR: no currency rate EUR→CHF for 2026-11-20")
    assert messages[1].startswith("line 2: SAPR")


# --- with the database --------------------------------------------------------------------


@pytest.mark.django_db
def test_rate_missing_for_a_date_then_imported():
    mapping_set = order_head_set()
    FieldMapping.objects.create(
        mapping_set=mapping_set,
        target_field="YREF",
        source="total_paid",
        transforms="currency_convert('CHF', places=2) | to_str",
        position=99,
    )
    mapping_set.refresh_from_db()
    compiled = engine.compiled_for(mapping_set)
    with pytest.raises(MappingFailed, match="no currency rate EUR→CHF for 2026-11-20"):
        map_document(compiled, make_order(), context={"customer_number": "C1"})
    CurrencyRate.objects.create(
        date=date(2026, 11, 20), from_currency="CHF", to_currency="EUR", rate=Decimal("1.25")
    )
    payload = map_document(
        compiled, make_order(), context={"customer_number": "C1"}, rates=DatabaseRates()
    )
    assert payload["YREF"] == "24.00"  # inverted CHF→EUR rate: 30 / 1.25


@pytest.mark.django_db
def test_compiled_once_per_change_not_per_record():
    mapping_set = order_head_set()
    before = engine.compile_counter["count"]
    for _ in range(5):
        compiled = engine.compiled_for(mapping_set)
        map_document(compiled, make_order(), context={"customer_number": "C1"}, rates=NO_RATES)
    assert engine.compile_counter["count"] == before + 1

    field = mapping_set.fields.get(target_field="CUOR")
    field.transforms = "lower"
    field.save()
    mapping_set.refresh_from_db()
    compiled = engine.compiled_for(mapping_set)
    assert engine.compile_counter["count"] == before + 2
    payload = map_document(
        compiled, make_order(), context={"customer_number": "C1"}, rates=NO_RATES
    )
    assert payload["CUOR"] == "xkbknabjk"
    engine.compiled_for(mapping_set)
    assert engine.compile_counter["count"] == before + 2


@pytest.mark.django_db
def test_a_value_map_change_recompiles_the_sets_using_it():
    mapping_set = order_head_set()
    engine.compiled_for(mapping_set)
    version = mapping_set.version
    entry = ValueMapEntry.objects.get(value_map__name="carriers", source_value="Colissimo")
    entry.target_value = "CLS"
    entry.save()
    mapping_set.refresh_from_db()
    assert mapping_set.version > version
    payload = map_document(
        engine.compiled_for(mapping_set),
        make_order(),
        context={"customer_number": "C"},
        rates=NO_RATES,
    )
    assert payload["MODL"] == "CLS"


@pytest.mark.django_db
def test_rule_deleted_bumps_the_version():
    mapping_set = order_head_set()
    rule = Rule.objects.create(
        mapping_set=mapping_set, name="r", condition="`true`", assignments={"ORTP": "B2B"}
    )
    mapping_set.refresh_from_db()
    version = mapping_set.version
    rule.delete()
    mapping_set.refresh_from_db()
    assert mapping_set.version == version + 1


@pytest.mark.django_db
def test_active_mapping_selector():
    mapping_set = order_head_set()
    with pytest.raises(PermanentError, match="No active mapping set for order_header"):
        engine.active_mapping(integration_id=1, entity="order_header")
    from tests.factories import IntegrationFactory

    integration = IntegrationFactory()
    mapping_set.integration = integration
    mapping_set.active = True
    mapping_set.save()
    compiled = engine.active_mapping(integration_id=integration.pk, entity="order_header")
    assert compiled.name == mapping_set.name


# --- property: whatever the document, a payload or a MappingFailed, nothing else -------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.mappings.test_transforms import any_input  # noqa: E402

EVERYTHING = compile_head(
    [
        {"target": "CUNO", "source": "context.customer_number", "default": "C1"},
        {"target": "CUOR", "source": "reference", "transforms": "strip | upper"},
        {"target": "ORTP", "source": "state", "transforms": "value_map('carriers')"},
        {"target": "ORDT", "source": "placed_at"},
        {
            "target": "TOPY",
            "source": "total_paid",
            "transforms": "currency_convert('EUR') | round(2)",
        },
        {"target": "NRLN", "source": "length(lines || `[]`)"},
        {"target": "GIFT", "source": "raw.gift"},
        {
            "target": "CUA1",
            "source": "[shipping_address.line1, note]",
            "transforms": "fit_lines | item(0)",
        },
        {
            "target": "PHNO",
            "source": "shipping_address.phone",
            "transforms": "phone_e164(region='FR')",
        },
        {"target": "CSCD", "source": "shipping_address.country", "transforms": "iso_country"},
        {"target": "YREF", "source": "raw", "condition": "shop_id"},
    ],
    [{"name": "r", "condition": "customer.group == 'B2B'", "assignments": {"ORTP": "B2B"}}],
)
KEYS = [
    "reference",
    "state",
    "placed_at",
    "total_paid",
    "lines",
    "raw",
    "shipping_address",
    "note",
    "shop_id",
    "customer",
    "currency",
]


@settings(max_examples=80, deadline=None)
@given(document=st.dictionaries(st.sampled_from(KEYS), any_input, max_size=8) | any_input)
def test_any_document_maps_or_fails_with_violations(document):
    try:
        payload = map_document(EVERYTHING, document, rates=NO_RATES)
    except MappingFailed as error:
        assert error.violations
        assert all(v.field and v.message for v in error.violations)
        return
    assert set(payload) <= {f.name for f in HEAD.fields}
