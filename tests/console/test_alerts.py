"""Alerts: which hold, and how they are sent (e-mail; a webhook signed per Standard Webhooks)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
from standardwebhooks.webhooks import Webhook

from integrations.alerts import AlertRules, alerts_check, alerts_run, alerts_send
from integrations.models import PollCursor, Status, SyncRecord
from integrations.subscriptions.signing import secret_generate
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db

TUESDAY_NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Paris
SUNDAY_NOON = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
RULES = AlertRules(needs_attention_max=2, dead_max=0, no_orders_minutes=30, poller_lag_minutes=15)


def _codes(alerts):
    return sorted((a.code, a.integration) for a in alerts)


def test_thresholds_and_business_hours():
    quiet = IntegrationFactory(slug="quiet", enabled_flows=["order_to_cash"])
    busy = IntegrationFactory(slug="busy", enabled_flows=["order_to_cash"])
    order = SyncRecordFactory(integration=busy, flow="order_to_cash", status=Status.SUCCEEDED)
    SyncRecord.objects.filter(pk=order.pk).update(created_at=TUESDAY_NOON - timedelta(minutes=5))
    for _ in range(3):
        SyncRecordFactory(integration=busy, status=Status.NEEDS_ATTENTION)
    SyncRecordFactory(integration=quiet, status=Status.DEAD)
    PollCursor.objects.create(
        integration=busy,
        stream="orders",
        last_run_at=TUESDAY_NOON,
        last_success_at=TUESDAY_NOON - timedelta(minutes=40),
        last_error="503 from the shop",
    )

    alerts = alerts_check(now=TUESDAY_NOON, rules=RULES)

    assert _codes(alerts) == [
        ("dead", "quiet"),
        ("needs_attention", "busy"),
        ("no_orders", "quiet"),
        ("poller_lag", "busy"),
    ]
    lag = next(a for a in alerts if a.code == "poller_lag")
    assert lag.value == 40 and "busy/orders" in lag.message
    # Out of business hours, a quiet shop is no news.
    assert ("no_orders", "quiet") not in _codes(alerts_check(now=SUNDAY_NOON, rules=RULES))


@responses.activate
def test_sent_by_email_and_signed_webhook(mailoutbox):
    IntegrationFactory(slug="quiet", enabled_flows=["order_to_cash"])
    secret = secret_generate()
    responses.post("https://alerts.example.com/hook", status=204)
    alerts = alerts_check(now=TUESDAY_NOON, rules=RULES)

    sent = alerts_send(
        alerts=alerts,
        emails=["ops@example.com"],
        webhook_url="https://alerts.example.com/hook",
        webhook_secret=secret,
        now=TUESDAY_NOON,
    )

    assert sent.emailed == 1 and sent.webhook_status == 204
    [mail] = mailoutbox
    assert "no_orders" in mail.subject and "quiet: no order ever received" in mail.body
    [call] = responses.calls
    body = call.request.body.decode()
    headers = {k.lower(): v for k, v in call.request.headers.items()}
    payload = json.loads(body)
    # Verify the signature as a receiver would (timestamp checked against our fixed clock).
    wh = Webhook(secret)
    expected = wh.sign(
        msg_id=headers["webhook-id"],
        timestamp=datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC),
        data=body,
    )
    assert headers["webhook-signature"] == expected
    assert payload["type"] == "console.alerts"
    assert payload["data"]["alerts"][0]["code"] == "no_orders"


def test_nothing_to_send_sends_nothing(mailoutbox, settings):
    settings.CONSOLE_ALERT_EMAILS = ["ops@example.com"]
    IntegrationFactory(slug="fine", enabled_flows=["test_noop"])
    assert alerts_run(now=TUESDAY_NOON) == []
    assert mailoutbox == []
