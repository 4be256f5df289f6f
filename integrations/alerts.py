"""Alerts for the ops team: no orders for a while in business hours, too many records waiting
for a person or dead, a poller fallen behind. Checked by `alerts_check` (a read), sent by
`alerts_send` by e-mail and as a signed webhook (Standard Webhooks, like our subscriptions).

Where they go is read from settings, all optional: CONSOLE_ALERT_EMAILS (a list),
CONSOLE_ALERT_WEBHOOK_URL and CONSOLE_ALERT_WEBHOOK_SECRET (whsec_…). Nothing schedules the
check yet: a q2 schedule calling `alerts_run` every few minutes is the wiring left to do.
"""

import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count, Max, Q
from django.utils import timezone

from connectors.validators import UnsafeDestination, request_guard
from integrations.models import Integration, PollCursor, Status, SyncRecord
from integrations.subscriptions.signing import signed_headers

WEBHOOK_TIMEOUT_SECONDS = 10  # an alert receiver that hangs must not hold the check

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertRules:
    """Thresholds; every one a named knob."""

    no_orders_minutes: int = 60  # no new order for this long, in business hours, is suspect
    business_hours: tuple[int, int] = (8, 20)  # local hours [start, end)
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    business_timezone: str = "Europe/Paris"
    needs_attention_max: int = 10  # more records waiting for a person than this
    dead_max: int = 0  # more dead records than this
    poller_lag_minutes: int = 15  # a poll cursor without success for this long


@dataclass(frozen=True)
class Alert:
    code: str  # no_orders | needs_attention | dead | poller_lag
    integration: str
    message: str
    value: Any = None
    threshold: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _in_business_hours(now: datetime, rules: AlertRules) -> bool:
    local = now.astimezone(ZoneInfo(rules.business_timezone))
    start, end = rules.business_hours
    return local.weekday() in rules.business_days and start <= local.hour < end


def alerts_check(*, now: datetime | None = None, rules: AlertRules | None = None) -> list[Alert]:
    """Every alert that holds now, per active integration (one grouped query per kind)."""
    now = now or timezone.now()
    rules = rules or AlertRules()
    integrations = {
        i.pk: i for i in Integration.objects.filter(is_active=True).only("slug", "enabled_flows")
    }
    if not integrations:
        return []
    alerts: list[Alert] = []
    counts = {
        row["integration_id"]: row
        for row in SyncRecord.objects.filter(integration_id__in=integrations)
        .values("integration_id")
        .annotate(
            needs_attention=Count("id", filter=Q(status=Status.NEEDS_ATTENTION)),
            dead=Count("id", filter=Q(status=Status.DEAD)),
            last_order=Max("created_at", filter=Q(flow="order_to_cash")),
        )
    }
    business = _in_business_hours(now, rules)
    for pk, integration in integrations.items():
        row = counts.get(pk, {"needs_attention": 0, "dead": 0, "last_order": None})
        slug = integration.slug
        if row["needs_attention"] > rules.needs_attention_max:
            alerts.append(
                Alert(
                    "needs_attention",
                    slug,
                    f"{slug}: {row['needs_attention']} records need attention "
                    f"(threshold {rules.needs_attention_max})",
                    row["needs_attention"],
                    rules.needs_attention_max,
                )
            )
        if row["dead"] > rules.dead_max:
            alerts.append(
                Alert(
                    "dead",
                    slug,
                    f"{slug}: {row['dead']} dead records (threshold {rules.dead_max})",
                    row["dead"],
                    rules.dead_max,
                )
            )
        quiet_since = now - timedelta(minutes=rules.no_orders_minutes)
        if (
            business
            and integration.flow_enabled("order_to_cash")
            and (row["last_order"] is None or row["last_order"] < quiet_since)
        ):
            last = row["last_order"]
            alerts.append(
                Alert(
                    "no_orders",
                    slug,
                    f"{slug}: no new order for {rules.no_orders_minutes} minutes in business "
                    f"hours (last {last:%Y-%m-%d %H:%M} UTC)"
                    if last
                    else f"{slug}: no order ever received",
                    last.isoformat() if last else None,
                    rules.no_orders_minutes,
                )
            )
    lag_since = now - timedelta(minutes=rules.poller_lag_minutes)
    for cursor in PollCursor.objects.filter(integration_id__in=integrations).filter(
        Q(last_success_at__lt=lag_since)
        | Q(last_success_at__isnull=True, last_run_at__isnull=False)
    ):
        slug = integrations[cursor.integration_id].slug
        minutes = (
            int((now - cursor.last_success_at).total_seconds() // 60)
            if cursor.last_success_at
            else None
        )
        alerts.append(
            Alert(
                "poller_lag",
                slug,
                f"{slug}/{cursor.stream}: no successful poll for {minutes} minutes"
                if minutes is not None
                else f"{slug}/{cursor.stream}: never polled successfully",
                minutes,
                rules.poller_lag_minutes,
                {"stream": cursor.stream, "last_error": cursor.last_error[:500]},
            )
        )
    return alerts


@dataclass(frozen=True)
class AlertDelivery:
    emailed: int
    webhook_status: int | None


def alerts_send(
    *,
    alerts: list[Alert],
    emails: list[str] | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    now: datetime | None = None,
) -> AlertDelivery:
    """Send `alerts` in one e-mail and one signed webhook (when each is configured)."""
    if not alerts:
        return AlertDelivery(emailed=0, webhook_status=None)
    now = now or timezone.now()
    emailed = 0
    if emails:
        subject = f"[ShopSync] {len(alerts)} alert(s): " + ", ".join(
            sorted({a.code for a in alerts})
        )
        body = "\n".join(a.message for a in alerts)
        emailed = send_mail(subject, body, None, emails)
    status = None
    if webhook_url and webhook_secret:
        try:
            request_guard.check(webhook_url)  # SSRF: the guard every request of ours passes
        except UnsafeDestination as exc:
            logger.warning("alert webhook not sent: CONSOLE_ALERT_WEBHOOK_URL refused: %s", exc)
            return AlertDelivery(emailed=emailed, webhook_status=None)
        body = json.dumps(
            {
                "type": "console.alerts",
                "timestamp": now.isoformat(),
                "data": {"alerts": [asdict(a) for a in alerts]},
            },
            default=str,
        )
        headers = signed_headers(
            secret=webhook_secret, message_id=f"msg_{uuid.uuid4().hex}", timestamp=now, body=body
        )
        response = requests.post(
            webhook_url, data=body.encode(), headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS
        )
        status = response.status_code
    return AlertDelivery(emailed=emailed, webhook_status=status)


def alerts_run(*, now: datetime | None = None) -> list[Alert]:
    """Check, then send to where settings say; the entry point for a schedule."""
    alerts = alerts_check(now=now)
    alerts_send(
        alerts=alerts,
        emails=list(getattr(settings, "CONSOLE_ALERT_EMAILS", []) or []),
        webhook_url=getattr(settings, "CONSOLE_ALERT_WEBHOOK_URL", None),
        webhook_secret=getattr(settings, "CONSOLE_ALERT_WEBHOOK_SECRET", None),
        now=now,
    )
    return alerts
