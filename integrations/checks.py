"""Startup checks: a q2 setup that could repeat work, or an integration that cannot run."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register()
def check_q_cluster(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    conf = settings.Q_CLUSTER
    errors = []
    timeout, retry = conf.get("timeout"), conf.get("retry")
    if not timeout or not retry or retry <= timeout:
        errors.append(
            checks.Error(
                f"Q_CLUSTER retry ({retry}) must be longer than timeout ({timeout}).",
                hint="Otherwise the broker re-delivers a task that is still running.",
                id="integrations.E001",
            )
        )
    if not conf.get("max_attempts"):
        errors.append(
            checks.Error(
                "Q_CLUSTER max_attempts must be finite (the sweep recovers failed work).",
                id="integrations.E002",
            )
        )
    if conf.get("catch_up", True):
        errors.append(
            checks.Error(
                "Q_CLUSTER catch_up must be off: missed schedules must not run in a burst.",
                id="integrations.E003",
            )
        )
    return errors


@checks.register(checks.Tags.database)
def check_integration_flows(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """An enabled flow that no installed module provides would stop every record it gets."""
    if not databases:
        return []
    from integrations.flows.registry import FLOWS
    from integrations.models import Integration

    messages = []
    try:
        rows = list(Integration.objects.values_list("slug", "enabled_flows"))
    except DatabaseError:
        return []  # not migrated yet
    for slug, flows in rows:
        for flow in flows or []:
            if flow not in FLOWS:
                messages.append(
                    checks.Warning(
                        f"integration {slug!r} enables flow {flow!r}, which is not installed.",
                        hint=f"Installed flows: {', '.join(sorted(FLOWS)) or 'none'}.",
                        id="integrations.W001",
                    )
                )
    return messages
