"""PostgreSQL or Redis unreachable for a moment while a record runs (found by the chaos run,
bench/chaos): an outage is retried like any transient fault, never parked as a bug."""

from unittest import mock

import pytest
import redis
from django.db import InterfaceError, OperationalError

from integrations.models import Status, SyncAttempt
from integrations.pipeline import process_records
from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.support.flows import ScriptedFlow

pytestmark = pytest.mark.django_db


def _run_failing_with(error: BaseException):
    integration = IntegrationFactory(retry_limit=5, backoff_base_seconds=0, backoff_cap_seconds=1)
    record = SyncRecordFactory(integration=integration, flow="test_scripted", payload_in={})
    with mock.patch.object(ScriptedFlow, "extract", side_effect=error):
        process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    return record


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ],
    ids=["redis-connection", "redis-timeout", "db-operational", "db-interface"],
)
def test_an_outage_of_the_database_or_redis_is_retried_not_parked(error):
    record = _run_failing_with(error)

    assert record.status == Status.RETRYING
    assert record.failures == 1
    assert record.error_class == "TransientError"
    assert type(error).__name__ in record.error_message
    assert SyncAttempt.objects.get(record=record).outcome == Status.RETRYING


def test_other_redis_errors_still_stop_the_record_as_a_bug():
    record = _run_failing_with(redis.exceptions.ResponseError("WRONGTYPE"))

    assert record.status == Status.NEEDS_ATTENTION
    assert record.error_class == "ResponseError"


def test_an_outage_that_outlasts_the_retry_limit_ends_dead():
    integration = IntegrationFactory(retry_limit=1, backoff_base_seconds=0, backoff_cap_seconds=1)
    record = SyncRecordFactory(integration=integration, flow="test_scripted", payload_in={})
    with mock.patch.object(
        ScriptedFlow, "extract", side_effect=redis.exceptions.ConnectionError("down")
    ):
        process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()

    assert record.status == Status.DEAD
