import factory

from mappings.models import FieldMapping, MappingSet, ValueMap, ValueMapEntry
from tests.mappings.conftest import SYSTEM


class MappingSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MappingSet

    name = factory.Sequence(lambda n: f"mapping set {n}")
    entity = "order_header"
    target_system = SYSTEM
    operation = "test.head"
    preview_context = factory.LazyFunction(lambda: {"customer_number": "C0001"})


class FieldMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FieldMapping

    mapping_set = factory.SubFactory(MappingSetFactory)
    position = factory.Sequence(lambda n: n * 10)
    target_field = "CUOR"
    source = "reference"


class ValueMapFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueMap

    name = factory.Sequence(lambda n: f"map-{n}")


class ValueMapEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ValueMapEntry

    value_map = factory.SubFactory(ValueMapFactory)
    source_value = factory.Sequence(str)
    target_value = "X"


def order_head_set(**kwargs) -> MappingSet:
    """A saved set mapping CUNO, CUOR, ORDT, TOPY, MODL (through a value map 'carriers')."""
    carriers = ValueMap.objects.filter(name="carriers").first() or ValueMapFactory(name="carriers")
    ValueMapEntry.objects.get_or_create(
        value_map=carriers, source_value="Colissimo", defaults={"target_value": "COL"}
    )
    mapping_set = MappingSetFactory(**kwargs)
    for position, (target, source, chain) in enumerate(
        [
            ("CUNO", "context.customer_number", ""),
            ("CUOR", "reference", "strip | upper"),
            ("ORDT", "placed_at", ""),
            ("TOPY", "total_paid", "to_decimal"),
            ("MODL", "carrier", "value_map('carriers')"),
        ]
    ):
        FieldMapping.objects.create(
            mapping_set=mapping_set,
            position=position,
            target_field=target,
            source=source,
            transforms=chain,
        )
    mapping_set.refresh_from_db()
    return mapping_set
