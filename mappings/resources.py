"""django-import-export resources: value-map entries and currency rates as CSV/XLSX.

Rows are matched on their natural key (value map name + source value; date + pair), so
re-importing a file updates in place instead of duplicating.
"""

from import_export import fields, resources
from import_export.widgets import ForeignKeyWidget

from mappings.models import CurrencyRate, ValueMap, ValueMapEntry


class ValueMapEntryResource(resources.ModelResource):
    value_map = fields.Field(
        column_name="value_map",
        attribute="value_map",
        widget=ForeignKeyWidget(ValueMap, field="name"),
    )

    class Meta:
        model = ValueMapEntry
        fields = ("value_map", "source_value", "target_value", "note")
        import_id_fields = ("value_map", "source_value")
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True


class CurrencyRateResource(resources.ModelResource):
    class Meta:
        model = CurrencyRate
        fields = ("date", "from_currency", "to_currency", "rate", "source")
        import_id_fields = ("date", "from_currency", "to_currency")
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True
