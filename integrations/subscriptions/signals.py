"""record.needs_attention, published when a record stops for a person.

Today it hangs on post_save of SyncAttempt: the pipeline writes one attempt per run, inside
finish()'s transaction, with the outcome. The receiver only schedules the publication for
after that commit, so a subscriber problem can never roll back or slow the record's outcome.

`record_finished` is declared for the pipeline to send after finish() (one line:
`record_finished.send(sender=SyncRecord, record=record, status=status)`), for listeners that
want every outcome; record.needs_attention stays on the attempt receiver either way.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from integrations.models import Status, SyncAttempt, SyncRecord

# Sent with record= and status= once a run's outcome is committed.
record_finished = Signal()


@receiver(post_save, sender=SyncAttempt, dispatch_uid="subscriptions.attempt_needs_attention")
def _attempt_saved(sender: Any, instance: SyncAttempt, created: bool, **kwargs: Any) -> None:
    if created and instance.outcome == Status.NEEDS_ATTENTION:
        attempt_id, record_id = instance.pk, instance.record_id
        transaction.on_commit(lambda: publish_needs_attention(record_id, attempt_id))


def publish_needs_attention(record_id: int, attempt_id: int) -> None:
    from integrations.subscriptions.event_types import RECORD_NEEDS_ATTENTION
    from integrations.subscriptions.services import event_publish

    record = SyncRecord.objects.select_related("integration").filter(pk=record_id).first()
    if record is None:
        return
    event_publish(
        integration=record.integration,
        event_type=RECORD_NEEDS_ATTENTION,
        payload={
            "record_id": record.pk,
            "attempt_id": attempt_id,
            "integration": record.integration.slug,
            "flow": record.flow,
            "source_system": record.source_system,
            "source_id": record.source_id,
            "reference": record.reference,
            "step": record.step,
            "error_class": record.error_class,
            "error_message": record.error_message,
            "error_field": record.error_field,
        },
    )
