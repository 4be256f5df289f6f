from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Mappings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mappings import checks, signals  # noqa: F401  (registers system checks)
        from mappings.models import FieldMapping, Rule, ValueMap, ValueMapEntry

        for model in (FieldMapping, Rule):
            for signal in (post_save, post_delete):
                signal.connect(
                    signals.mapping_row_changed,
                    sender=model,
                    dispatch_uid=f"mappings.{model.__name__}.{signal is post_save}",
                )
        for model in (ValueMap, ValueMapEntry):
            for signal in (post_save, post_delete):
                signal.connect(
                    signals.value_map_changed,
                    sender=model,
                    dispatch_uid=f"mappings.{model.__name__}.{signal is post_save}",
                )
