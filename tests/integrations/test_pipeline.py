from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from integrations.models import Status, Step, SyncAttempt
from integrations.pipeline import claim_records, process_records, reclaim_stale_claims
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.support.flows import LOADS

pytestmark = pytest.mark.django_db


def run(record):
    result = process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    return result


def test_success_runs_every_step_and_records_an_attempt():
    record = SyncRecordFactory(flow="test_noop")

    result = run(record)

    assert result.as_dict() == {"claimed": 1, "succeeded": 1}
    assert record.status == Status.SUCCEEDED
    assert record.step == Step.RECONCILE
    assert record.target_id == f"T-{record.pk}"
    assert set(record.timings) == {"extract", "transform", "validate", "load", "reconcile"}
    assert record.claim_token == "" and record.finished_at is not None
    attempt = SyncAttempt.objects.get(record=record)
    assert (attempt.number, attempt.outcome) == (1, Status.SUCCEEDED)
    assert LOADS[record.pk] == 1


def test_a_finished_record_is_not_run_again():
    record = SyncRecordFactory(flow="test_noop")
    run(record)

    again = run(record)

    assert again.claimed == 0
    assert LOADS[record.pk] == 1


def test_transient_failure_is_retried_with_backoff():
    integration = IntegrationFactory(
        retry_limit=5, backoff_base_seconds=10, backoff_cap_seconds=100
    )
    record = SyncRecordFactory(
        integration=integration, flow="test_scripted", payload_in={"fail": "transient"}
    )
    before = timezone.now()

    with mock.patch("connectors.http.random.uniform", side_effect=lambda lo, hi: hi):
        run(record)

    assert record.status == Status.RETRYING
    assert record.failures == 1
    assert record.error_class == "TransientError"
    assert "503" in record.error_message
    # full jitter draws from [0, base * 2**(failures-1)]: the top of that range here
    assert (
        before + timedelta(seconds=9)
        < record.next_attempt_at
        <= timezone.now() + timedelta(seconds=10)
    )
    # not due yet, so nobody can claim it
    assert claim_records(ids=[record.pk]) == []


def test_retry_after_is_respected_even_when_backoff_is_shorter():
    integration = IntegrationFactory(retry_limit=5, backoff_base_seconds=1, backoff_cap_seconds=2)
    record = SyncRecordFactory(
        integration=integration,
        flow="test_scripted",
        payload_in={"fail": "transient", "retry_after": 120},
    )
    before = timezone.now()

    run(record)

    assert record.status == Status.RETRYING
    assert record.next_attempt_at >= before + timedelta(seconds=120)


def test_backoff_grows_and_the_record_dies_at_the_limit():
    integration = IntegrationFactory(
        retry_limit=3, backoff_base_seconds=10, backoff_cap_seconds=1000
    )
    record = SyncRecordFactory(
        integration=integration, flow="test_scripted", payload_in={"fail": "transient"}
    )
    ceilings = []
    with mock.patch(
        "connectors.http.random.uniform", side_effect=lambda lo, hi: ceilings.append(hi) or hi
    ):
        for _ in range(3):
            record.__class__.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
            run(record)

    assert ceilings == [10, 20]
    assert record.status == Status.DEAD
    assert record.attempts == 3
    assert record.next_attempt_at is None
    assert list(SyncAttempt.objects.filter(record=record).values_list("outcome", flat=True)) == [
        Status.RETRYING,
        Status.RETRYING,
        Status.DEAD,
    ]


def test_permanent_failure_needs_attention_naming_field_and_value():
    record = SyncRecordFactory(
        flow="test_scripted", payload_in={"fail": "permanent", "sku": "AB-9"}
    )

    run(record)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.step == Step.TRANSFORM
    assert record.error_class == "DataError"
    assert record.error_field == "lines.2.sku"
    assert record.error_value == "AB-9"
    assert "line 2 sku 'AB-9': no ERP item" in record.error_message
    assert record.next_attempt_at is None
    assert LOADS[record.pk] == 0


def test_skip_is_final_and_says_why():
    record = SyncRecordFactory(flow="test_scripted", payload_in={"fail": "skip"})

    run(record)

    assert record.status == Status.SKIPPED
    assert record.error_message == "order state 8 (payment error) is never exported"


def test_an_unexpected_exception_stops_the_record_visibly_with_its_traceback():
    record = SyncRecordFactory(flow="test_scripted", payload_in={"fail": "bug"})

    run(record)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_class == "KeyError"
    assert record.error_message.startswith("unexpected error (KeyError)")
    assert "KeyError" in SyncAttempt.objects.get(record=record).traceback


def test_unknown_flow_needs_attention_naming_the_flow():
    record = SyncRecordFactory(flow="no_such_flow")

    run(record)

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_field == "flow"
    assert record.error_value == "no_such_flow"


def test_crash_after_load_never_loads_twice():
    """Load succeeded remotely, then reconcile failed: the retry must only reconcile."""
    record = SyncRecordFactory(flow="test_crash_after_load")

    run(record)
    assert record.status == Status.RETRYING
    assert record.target_id == "ERP-42"
    assert record.context == {"reconciled_once": True}

    record.__class__.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
    run(record)

    assert record.status == Status.SUCCEEDED
    assert LOADS[record.pk] == 1


def test_inactive_integration_records_wait():
    record = SyncRecordFactory(flow="test_noop", integration__is_active=False)

    assert run(record).claimed == 0
    assert record.status == Status.PENDING


def test_stale_claim_is_reclaimed_and_run_again():
    record = SyncRecordFactory(flow="test_noop")
    [_claimed] = claim_records(ids=[record.pk], worker="dead-worker")
    # the worker dies here; its lease runs out
    later = timezone.now() + timedelta(hours=1)

    assert reclaim_stale_claims(now=later) == 1
    record.refresh_from_db()
    assert record.status == Status.RETRYING
    assert record.error_class == "WorkerLost"
    assert "dead-worker" in record.error_message

    record.__class__.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
    run(record)
    assert record.status == Status.SUCCEEDED
    assert record.attempts == 2
    outcomes = list(SyncAttempt.objects.filter(record=record).values_list("number", "outcome"))
    assert outcomes == [(1, Status.RETRYING), (2, Status.SUCCEEDED)]


def test_a_worker_that_lost_its_claim_cannot_write():
    record = SyncRecordFactory(flow="test_noop")
    [stale] = claim_records(ids=[record.pk], worker="slow")
    reclaim_stale_claims(now=timezone.now() + timedelta(hours=1))
    record.__class__.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
    [fresh] = claim_records(ids=[record.pk], worker="fresh")

    from integrations.pipeline import run_record

    assert run_record(stale).status == "claim_lost"
    assert run_record(fresh).status == Status.SUCCEEDED
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED


def test_a_record_that_kills_its_worker_every_time_ends_dead():
    record = SyncRecordFactory(flow="test_noop", integration__retry_limit=2)
    for hour in (1, 2):
        record.__class__.objects.filter(pk=record.pk).update(next_attempt_at=timezone.now())
        claim_records(ids=[record.pk])
        reclaim_stale_claims(now=timezone.now() + timedelta(hours=hour))
    record.refresh_from_db()
    assert record.status == Status.DEAD


def test_payloads_are_stored_redacted():
    record = SyncRecordFactory(
        flow="test_noop",
        payload_in={"customer": "a@b.c", "password": "hunter22", "nested": {"api_key": "k" * 32}},
    )

    run(record)

    assert record.payload_in["password"] == "***"
    assert record.payload_in["nested"]["api_key"] == "***"
    assert record.payload_in["customer"] == "a@b.c"
