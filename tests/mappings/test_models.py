"""Every user mistake is refused at save, with a message pointing at it."""

import pytest
from django.core.exceptions import ValidationError

from mappings.models import FieldMapping, MappingSet, Rule
from tests.mappings.factories import MappingSetFactory, ValueMapFactory

pytestmark = pytest.mark.django_db


def field(**kwargs) -> FieldMapping:
    defaults = {"target_field": "CUOR", "source": "reference"}
    return FieldMapping(mapping_set=MappingSetFactory(), **{**defaults, **kwargs})


def errors_of(obj) -> dict:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


def test_a_good_field_saves():
    ValueMapFactory(name="carriers")
    field(transforms="strip | value_map('carriers')", condition="shop_id == '1'").full_clean()


def test_unknown_target_field():
    errors = errors_of(field(target_field="CUORX"))
    assert (
        "Unknown target field 'CUORX' for tims test.head; the catalog has: CUNO, CUOR"
        in errors["target_field"][0]
    )


def test_unknown_target_field_on_an_unsaved_parent():
    parent = MappingSet(
        name="new", entity="order_header", target_system="tims", operation="test.head"
    )
    row = FieldMapping(mapping_set=parent, target_field="NOPE", source="reference")
    with pytest.raises(ValidationError) as caught:
        row.clean()
    assert "Unknown target field 'NOPE'" in caught.value.message_dict["target_field"][0]


def test_bad_source_expression_points_at_the_mistake():
    errors = errors_of(field(source="customer..email"))
    assert errors["source"][0].startswith(
        "Expression 'customer..email' does not parse at character 10"
    )
    assert "customer. ⟶ .email" in errors["source"][0]


def test_bad_condition_and_unknown_function():
    errors = errors_of(field(condition="shout(reference)"))
    assert "unknown function shout()" in errors["condition"][0]


def test_bad_transform_chain():
    errors = errors_of(field(transforms="strip | truncat(3)"))
    assert errors["transforms"][0].startswith("step 2 ('truncat(3)'): unknown transform 'truncat'")


def test_unknown_value_map():
    errors = errors_of(field(transforms="value_map('carriers')"))
    assert "No value map named 'carriers'" in errors["transforms"][0]


def test_nothing_to_map_from():
    errors = errors_of(field(source=""))
    assert "Give a source expression, a default or a transform." in errors["source"]


def test_without_a_catalog_any_field_name_saves():
    mapping_set = MappingSetFactory(operation="no.such.catalog")
    FieldMapping(mapping_set=mapping_set, target_field="whatever", source="reference").full_clean()


def test_rule_mistakes():
    mapping_set = MappingSetFactory()
    errors = errors_of(
        Rule(
            mapping_set=mapping_set,
            name="r",
            condition="a[",
            assignments={"NOPE": "1", "ORTP": {"x": 1}},
        )
    )
    assert "does not parse" in errors["condition"][0]
    assert any("Unknown target field 'NOPE'" in e for e in errors["assignments"])
    assert any("must be text or a number" in e for e in errors["assignments"])
    errors = errors_of(Rule(mapping_set=mapping_set, name="r", condition="", assignments={}))
    assert set(errors) >= {"condition", "assignments"}


def test_version_goes_up_with_every_save():
    mapping_set = MappingSetFactory()
    assert mapping_set.version == 1
    mapping_set.description = "x"
    mapping_set.save()
    FieldMapping.objects.create(mapping_set=mapping_set, target_field="CUOR", source="reference")
    mapping_set.refresh_from_db()
    assert mapping_set.version == 3


def test_history_is_kept_and_can_be_reverted():
    row = FieldMapping.objects.create(
        mapping_set=MappingSetFactory(), target_field="CUOR", source="reference"
    )
    row.source = "id"
    row.save()
    assert row.history.count() == 2
    previous = row.history.earliest().instance
    previous.save()
    row.refresh_from_db()
    assert row.source == "reference"
    assert row.history.count() == 3


def test_reverting_a_set_from_history_still_raises_its_version():
    mapping_set = MappingSetFactory(description="one")
    mapping_set.description = "two"
    mapping_set.save()
    mapping_set.description = "three"
    mapping_set.save()
    assert mapping_set.version == 3
    old = mapping_set.history.earliest().instance
    old.save()
    mapping_set.refresh_from_db()
    assert (mapping_set.description, mapping_set.version) == ("one", 4)


def test_system_check_warns_about_an_active_set_without_catalog():
    from mappings.checks import check_catalogs

    MappingSetFactory(operation="test.head", active=True)
    assert check_catalogs() == []
    MappingSetFactory(name="tims orders", operation="sales.nope", active=True)
    warnings = check_catalogs()
    assert [w.id for w in warnings] == ["mappings.W001"]
    assert "'tims orders' targets tims 'sales.nope'" in warnings[0].msg
