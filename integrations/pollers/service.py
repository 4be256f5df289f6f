"""Run one poll: read changes after the cursor, route each like a webhook, move the cursor.

The cursor only moves after the whole walk succeeded, to the latest change seen (never
backwards, even if two runs overlap). A failed run records its error and leaves the cursor
where it was; records it already created stay (they are idempotent) and the next run reads
the same window again.
"""

import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectors.errors import PermanentError
from connectors.redaction import redact_text, truncate
from integrations.models import Integration, PollCursor
from integrations.pollers.base import Poller
from integrations.pollers.registry import streams_for
from integrations.queue import enqueue_on_commit
from integrations.services.records import sync_record_enqueue
from integrations.webhooks.routing import Ignored, overrides_for, route_event

logger = logging.getLogger(__name__)

# Changes read by one run at most; the rest are read by the next (the cursor moves partway).
MAX_CHANGES_PER_RUN = 10_000


@dataclass
class PollResult:
    stream: str
    read: int = 0
    duplicates: int = 0
    records_created: int = 0
    ignored: int = 0
    rejected: int = 0
    cursor: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def poll_stream(*, integration: Integration, poller: Poller) -> PollResult:
    cursor, _ = PollCursor.objects.get_or_create(integration=integration, stream=poller.stream)
    started = timezone.now()
    result = PollResult(stream=poller.stream, cursor=cursor.value)
    overrides = overrides_for([integration.pk])
    seen: set[tuple[str, str]] = set()
    latest = cursor.value
    created: list[int] = []
    try:
        for change in poller.fetch(poller.window_start(cursor.value)):
            identity = (str(change.data.get("id", "")), change.cursor)
            if identity in seen:
                # The same row twice in one walk (a page boundary moved under us).
                result.duplicates += 1
                continue
            seen.add(identity)
            result.read += 1
            try:
                spec = route_event(
                    integration=integration,
                    source=poller.source,
                    event_type=change.event_type,
                    data=change.data,
                    overrides=overrides,
                )
            except PermanentError as error:
                # One unusable row must not hold the stream back for ever: say so, go on.
                result.rejected += 1
                logger.warning("poll %s/%s: %s", integration.slug, poller.stream, error)
                spec = None
            if isinstance(spec, Ignored):
                result.ignored += 1
            elif spec is not None:
                outcome = sync_record_enqueue(
                    integration=integration,
                    flow=spec.flow,
                    source_id=spec.source_id,
                    source_system=spec.source_system,
                    direction=spec.direction,
                    reference=spec.reference,
                    payload={"event": change.event_type, "polled": poller.stream, **change.data},
                    idempotency_key=spec.idempotency_key,
                    enqueue=False,
                    reopen=spec.reopen,
                )
                if outcome.queued:
                    created.append(outcome.record.pk)
                else:
                    result.duplicates += 1
            if change.cursor:
                latest = poller.later(latest, change.cursor) if latest else change.cursor
            if result.read >= MAX_CHANGES_PER_RUN:
                break
    except Exception as error:  # noqa: BLE001  (a failed poll is recorded, the cursor kept)
        message = truncate(redact_text(f"{type(error).__name__}: {error}"), 4000)
        logger.warning("poll %s/%s failed: %s", integration.slug, poller.stream, message)
        PollCursor.objects.filter(pk=cursor.pk).update(
            last_run_at=started, last_error=message, updated_at=timezone.now()
        )
        _enqueue(created)
        result.records_created = len(created)
        result.error = message
        return result
    finally:
        poller.close()
    if poller.cursor_ceiling is not None and latest:
        latest = poller.earlier(latest, poller.cursor_ceiling)
    with transaction.atomic():
        current = PollCursor.objects.select_for_update().get(pk=cursor.pk)
        value = poller.later(current.value, latest) if current.value and latest else latest
        current.value = value or current.value
        current.last_run_at = started
        current.last_success_at = timezone.now()
        current.last_error = ""
        current.save(
            update_fields=["value", "last_run_at", "last_success_at", "last_error", "updated_at"]
        )
        result.cursor = current.value
    _enqueue(created)
    result.records_created = len(created)
    return result


def _enqueue(ids: list[int]) -> None:
    if not ids:
        return
    with transaction.atomic():
        enqueue_on_commit(ids)


def pollable_streams(integration: Integration) -> list[str]:
    """Streams whose flow this integration runs."""
    return [
        stream
        for stream, factory in sorted(streams_for(integration).items())
        if integration.flow_enabled(getattr(factory, "flow", "") or "")
    ]


def poll_integration_stream(*, integration_id: int, stream: str) -> PollResult:
    integration = Integration.objects.select_related("shop_connection", "erp_connection").get(
        pk=integration_id
    )
    factory = streams_for(integration).get(stream)
    if factory is None:
        return PollResult(stream=stream, error=f"no poller for stream {stream!r}")
    return poll_stream(integration=integration, poller=factory(integration))
