"""django-q2 tasks: interfaces only. Each takes ids, reloads, and calls one service; each is
idempotent, because a broker may deliver a task twice and the sweep may queue a record again."""

from typing import Any

from django_q.tasks import async_task

from integrations.models import Integration
from integrations.pipeline import process_records
from integrations.pollers.service import poll_integration_stream, pollable_streams
from integrations.queue import broker
from integrations.subscriptions.services import event_deliveries_send, event_deliveries_sweep
from integrations.sweep import sweep
from integrations.webhooks.processing import (
    webhook_events_drain,
    webhook_events_sweep,
)


def process_records_task(record_ids: list[int]) -> dict[str, Any]:
    """Claim these records (those still due) and run them."""
    return process_records(ids=record_ids, limit=len(record_ids)).as_dict()


def sweep_task() -> dict[str, Any]:
    """Reclaim dead workers' claims and queue every due record nobody has queued."""
    return sweep().as_dict()


# ---------------------------------------------------------------- events in and out, pollers


def webhook_events_process_task(event_ids: list[int]) -> dict[str, Any]:
    """Turn these received webhook events (those still received) into records, then drain
    any other received events in batches."""
    return webhook_events_drain(ids=event_ids).as_dict()


def webhook_events_sweep_task() -> dict[str, Any]:
    """Process webhook events left in `received` (their task was lost)."""
    return webhook_events_sweep().as_dict()


def event_deliveries_send_task(delivery_ids: list[int]) -> dict[str, Any]:
    """Try these outgoing event deliveries (those still due) once each."""
    return event_deliveries_send(ids=delivery_ids, limit=len(delivery_ids)).as_dict()


def event_deliveries_sweep_task() -> dict[str, Any]:
    """Reclaim abandoned deliveries and queue every due one."""
    return event_deliveries_sweep()


def pollers_run_task() -> dict[str, Any]:
    """Queue one poll task per active integration and enabled stream."""
    queued = 0
    integrations = Integration.objects.filter(is_active=True).select_related(
        "shop_connection", "erp_connection"
    )
    for integration in integrations:
        for stream in pollable_streams(integration):
            async_task(
                "integrations.tasks.poll_stream_task",
                integration.pk,
                stream,
                broker=broker(),
                task_name=f"poll {integration.slug} {stream}",
            )
            queued += 1
    return {"queued": queued}


def poll_stream_task(integration_id: int, stream: str) -> dict[str, Any]:
    """Poll one stream of one integration from its cursor."""
    return poll_integration_stream(integration_id=integration_id, stream=stream).as_dict()


def alerts_run_task() -> list[str]:
    """Check alert rules (no orders in business hours, needs attention, dead, poller lag) and
    notify; each alert at most once per window, with a recovery message."""
    from integrations.alerts import alerts_run

    return [f"{alert.integration}: {alert.code}" for alert in alerts_run()]
