import pytest

from connectors.errors import PermanentError
from integrations.models import Status, SyncRecord
from integrations.services.links import link_bind, link_to_erp, link_to_shop
from integrations.services.records import (
    RecordActionError,
    sync_record_enqueue,
    sync_record_resolve,
    sync_record_retry,
    sync_record_skip,
)
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db


def test_enqueue_is_idempotent_and_queues_after_commit(django_capture_on_commit_callbacks):
    integration = IntegrationFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        first = sync_record_enqueue(
            integration=integration,
            flow="test_noop",
            source_system="prestashop",
            source_id="5",
            reference="XKBKNABJK",
            payload={"id": 5},
        )
        second = sync_record_enqueue(
            integration=integration,
            flow="test_noop",
            source_system="prestashop",
            source_id="5",
            reference="XKBKNABJK",
        )
    assert first.created and not second.created
    assert first.record.pk == second.record.pk
    assert len(callbacks) == 1  # only the new record is queued
    assert first.record.idempotency_key == "prestashop:5"


def test_enqueue_really_queues_a_task(django_capture_on_commit_callbacks):
    from django_q.brokers import get_broker

    integration = IntegrationFactory()
    broker = get_broker()
    before = broker.queue_size() or 0
    with django_capture_on_commit_callbacks(execute=True):
        result = sync_record_enqueue(
            integration=integration, flow="test_noop", source_system="prestashop", source_id="6"
        )
    result.record.refresh_from_db()
    assert (broker.queue_size() or 0) == before + 1
    assert result.record.enqueued_at is not None
    broker.purge_queue()


def test_retry_reopens_a_dead_record_with_a_fresh_budget(django_capture_on_commit_callbacks):
    record = SyncRecordFactory(status=Status.DEAD, failures=8, error_message="ERP down")
    with django_capture_on_commit_callbacks() as callbacks:
        sync_record_retry(record=record)
    record.refresh_from_db()
    assert (record.status, record.failures, record.next_attempt_at) == (Status.PENDING, 0, None)
    assert len(callbacks) == 1


def test_retry_leaves_succeeded_records_alone():
    record = SyncRecordFactory(status=Status.SUCCEEDED)
    sync_record_retry(record=record)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED


def test_resolve_needs_a_note_and_records_who(admin_user):
    record = SyncRecordFactory(status=Status.NEEDS_ATTENTION)
    with pytest.raises(RecordActionError, match="a note is required"):
        sync_record_resolve(record=record, note="  ", user=admin_user)
    resolved = sync_record_resolve(
        record=record, note="created by hand in M3 as 1000123", user=admin_user
    )
    assert resolved.status == Status.SUCCEEDED
    assert "resolved by admin" in resolved.resolution_note
    assert "1000123" in resolved.resolution_note


def test_skip_refuses_a_running_record():
    record = SyncRecordFactory(status=Status.RUNNING, claim_token="t")
    with pytest.raises(RecordActionError, match="is running"):
        sync_record_skip(record=record, note="duplicate")


def test_links_bind_both_ways_and_refuse_conflicts():
    integration = IntegrationFactory()
    link_bind(integration=integration, entity="order", shop_id="5", erp_id="1000001")
    link_bind(integration=integration, entity="order", shop_id="5", erp_id="1000001")  # no-op
    assert link_to_erp(integration=integration, entity="order", shop_id="5") == "1000001"
    assert link_to_shop(integration=integration, entity="order", erp_id="1000001") == "5"

    with pytest.raises(PermanentError, match="already linked to ERP order 1000001"):
        link_bind(integration=integration, entity="order", shop_id="5", erp_id="1000002")
    with pytest.raises(PermanentError, match="cannot also be linked to 6"):
        link_bind(integration=integration, entity="order", shop_id="6", erp_id="1000001")
    # another entity or integration is another namespace
    link_bind(integration=integration, entity="customer", shop_id="5", erp_id="1000001")
    assert SyncRecord.objects.count() == 0
