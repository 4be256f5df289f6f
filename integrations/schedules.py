"""The q2 schedules this app needs, created or corrected idempotently (after every migrate)."""

from django_q.models import Schedule

SCHEDULES = (
    # name, function, minutes between runs
    ("integrations: sweep due records", "integrations.tasks.sweep_task", 1),
    ("integrations: process leftover webhooks", "integrations.tasks.webhook_events_sweep_task", 1),
    ("integrations: deliver due events", "integrations.tasks.event_deliveries_sweep_task", 1),
    ("integrations: poll shop and ERP streams", "integrations.tasks.pollers_run_task", 1),
    ("integrations: alerts", "integrations.tasks.alerts_run_task", 5),
    # Stock (integrations.flows.inventory): ERP change feed, then a daily full reconciliation.
    ("stock: incremental scan", "integrations.flows.inventory.inventory_scan_task", 5),
    ("stock: full reconciliation", "integrations.flows.inventory.inventory_reconcile_task", 1440),
    ("customers: shop to ERP", "integrations.flows.customers.customers_scan_task", 5),
    ("products: ERP to shop", "integrations.flows.products.products_scan_task", 15),
)


def schedules_ensure() -> list[str]:
    """Create missing schedules and fix drifted ones; returns the names changed."""
    changed = []
    for name, func, minutes in SCHEDULES:
        schedule, created = Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
        if created:
            changed.append(name)
            continue
        wanted = {
            "func": func,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        }
        drift = {k: v for k, v in wanted.items() if getattr(schedule, k) != v}
        if drift:
            for key, value in drift.items():
                setattr(schedule, key, value)
            schedule.save(update_fields=list(drift))
            changed.append(name)
    return changed
