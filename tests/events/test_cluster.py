"""Nothing lost: webhooks accepted while no worker runs are all processed once a real q2
cluster starts (ORM broker on SQLite, Redis with REDIS_URL), each record exactly once."""

import pytest
from django.db.models import Max

from integrations.models import EventRoute, Status, SyncAttempt, SyncRecord, WebhookEvent
from tests.events.conftest import post, signed_headers, thin_event
from tests.support.cluster import running_cluster, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

N = 500


def test_webhooks_accepted_with_the_workers_stopped_are_all_processed_once(
    client, integration, secret
):
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="order.created", flow="test_noop"
    )
    for i in range(N):
        body = thin_event("order.created", id=i)
        assert post(client, body, signed_headers(body, secret)).status_code == 202
    # Every sender retries one webhook it thinks was lost: acknowledged, not stored again.
    body = thin_event("order.created", id=0)
    again = post(client, body, signed_headers(body, secret, msg_id="x"))
    assert again.status_code == 202  # a new id: a new event, the same record below
    assert WebhookEvent.objects.filter(state="received").count() == N + 1
    assert not SyncRecord.objects.exists()

    with running_cluster() as cluster:
        wait_for(
            lambda: (
                SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == N
                and not WebhookEvent.objects.filter(state="received").exists()
            ),
            timeout=180,
            process=cluster,
        )

    assert SyncRecord.objects.count() == N
    assert WebhookEvent.objects.filter(state="processed").count() == N + 1
    assert SyncRecord.objects.aggregate(Max("attempts"))["attempts__max"] == 1
    assert SyncAttempt.objects.count() == N
