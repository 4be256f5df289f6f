from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import checks  # noqa: F401  (registers system checks)
        from integrations.flows.registry import import_flow_modules
        from integrations.subscriptions import signals  # noqa: F401  (connects receivers)

        import_flow_modules(
            [
                *getattr(settings, "SYNC_FLOW_MODULES", []),
                *getattr(settings, "SYNC_EXTRA_FLOW_MODULES", []),
            ]
        )
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="integrations.schedules")


def _ensure_schedules(**kwargs: Any) -> None:
    from integrations.schedules import schedules_ensure

    schedules_ensure()
