"""Publish an event to its subscribers and deliver it: signed, retried with backoff, recorded.

`event_publish` only writes delivery rows and queues a task after commit: a flow that
publishes is never slowed by a subscriber, nor broken by one (errors are logged, not raised).
Each HTTP try is an EventDeliveryAttempt (request with the signature redacted, response code
and body truncated, duration). No retry on 3xx/4xx (except 408/429): the subscriber refused.
"""

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from connectors.http import backoff_delay, parse_retry_after
from connectors.redaction import redact, redact_headers, redact_text, truncate
from connectors.validators import request_guard
from integrations.models import EventDelivery, EventDeliveryAttempt, EventSubscription, Integration
from integrations.queue import broker, chunked
from integrations.subscriptions.event_types import EVENT_TYPES
from integrations.subscriptions.signing import signed_headers

logger = logging.getLogger(__name__)

# Seconds to wait for a subscriber (connect + read); a slow one costs a worker this long.
TIMEOUT = getattr(settings, "EVENT_DELIVERY_TIMEOUT_SECONDS", 5.0)
# Tries before a delivery is dead; with the backoff below that is about a day.
MAX_ATTEMPTS = getattr(settings, "EVENT_DELIVERY_MAX_ATTEMPTS", 8)
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 6 * 3600.0
# A claimed delivery whose worker vanished is retried after this long.
CLAIM_LEASE = timedelta(seconds=TIMEOUT * 4 + 30)
# Deliveries per task, and stored body sizes.
BATCH_SIZE = 20
STORED_BODY_LIMIT = 4000
# Status codes worth another try; other 3xx/4xx mean the subscriber refused the event.
RETRY_STATUSES = frozenset({408, 425, 429})
DUE_STATES = (EventDelivery.State.PENDING, EventDelivery.State.RETRYING)


class UnknownEventType(ValueError):
    pass


def event_publish(
    *, integration: Integration | None, event_type: str, payload: dict[str, Any]
) -> list[EventDelivery]:
    """Queue `payload` for every active subscriber of `event_type`; returns the deliveries."""
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(
            f"unknown event type {event_type!r}; one of: {', '.join(EVENT_TYPES)}"
        )
    try:
        subscriptions = [
            s
            for s in EventSubscription.objects.filter(is_active=True).filter(
                Q(integration__isnull=True) | Q(integration=integration)
            )
            if event_type in (s.event_types or [])
        ]
        if not subscriptions:
            return []
        message_id = f"msg_{uuid.uuid4().hex}"
        stored = redact(json.loads(json.dumps(payload, cls=DjangoJSONEncoder)))
        with transaction.atomic():
            deliveries = EventDelivery.objects.bulk_create(
                EventDelivery(
                    subscription=s,
                    integration=integration,
                    message_id=message_id,
                    event_type=event_type,
                    payload=stored,
                )
                for s in subscriptions
            )
            ids = [d.pk for d in deliveries if d.pk] or list(
                EventDelivery.objects.filter(message_id=message_id).values_list("id", flat=True)
            )
            transaction.on_commit(lambda: _enqueue_quietly(ids))
        return deliveries
    except Exception:  # publishing must never break the flow that publishes
        logger.exception("event %s: could not queue its deliveries", event_type)
        return []


def _enqueue_quietly(ids: list[int]) -> None:
    try:
        for chunk in chunked(ids, BATCH_SIZE):
            async_task(
                "integrations.tasks.event_deliveries_send_task",
                chunk,
                broker=broker(),
                task_name=f"deliveries {chunk[0]}…{chunk[-1]}",
            )
    except Exception:  # noqa: BLE001  (the sweep delivers them instead)
        logger.warning("deliveries %s: could not queue; the sweep will", ids)


@dataclass
class SendResult:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    dead: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def event_deliveries_send(
    *, ids: list[int] | None = None, limit: int = BATCH_SIZE, now: datetime | None = None
) -> SendResult:
    """Claim due deliveries (only `ids`, if given) and try each once."""
    deliveries = _claim(ids=ids, limit=limit, now=now or timezone.now())
    result = SendResult(claimed=len(deliveries))
    for delivery in deliveries:
        state = _send(delivery)
        setattr(result, state, getattr(result, state) + 1)
    return result


def _due(now: datetime) -> Q:
    return Q(state__in=DUE_STATES) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def _claim(*, ids: list[int] | None, limit: int, now: datetime) -> list[EventDelivery]:
    candidates = EventDelivery.objects.filter(_due(now))
    if ids is not None:
        candidates = candidates.filter(id__in=ids)
    token = now + CLAIM_LEASE
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        picked = list(candidates.order_by("id").values_list("id", flat=True)[:limit])
        # The due condition again: the compare-and-set where rows cannot be locked.
        EventDelivery.objects.filter(_due(now), id__in=picked).update(
            state=EventDelivery.State.SENDING, claim_expires_at=token, updated_at=now
        )
    return list(
        EventDelivery.objects.filter(
            id__in=picked, state=EventDelivery.State.SENDING, claim_expires_at=token
        ).select_related("subscription")
    )


_sessions = threading.local()


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


def _send(delivery: EventDelivery) -> str:
    subscription = delivery.subscription
    number = delivery.attempts + 1
    started_at = timezone.now()
    body = json.dumps(
        {
            "type": delivery.event_type,
            "timestamp": started_at.isoformat(),
            "data": delivery.payload,
        },
        cls=DjangoJSONEncoder,
    )
    secret = (subscription.secret or {}).get("secret", "")
    code: int | None = None
    response_body = error = ""
    retry_after: float | None = None
    headers: dict[str, str] = {"Content-Type": "application/json"}
    clock = time.perf_counter()
    try:
        headers = signed_headers(
            secret=secret, message_id=delivery.message_id, timestamp=started_at, body=body
        )
        request_guard.check(subscription.url)  # SSRF: refused like a connection's URL
        response = _session().post(
            subscription.url,
            data=body.encode(),
            headers=headers,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        code = response.status_code
        response_body = truncate(redact_text(response.text), STORED_BODY_LIMIT)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {redact_text(str(exc))}"
    except Exception as exc:  # noqa: BLE001  (a bad secret or URL is recorded, not raised)
        error = f"cannot send ({type(exc).__name__}): {redact_text(str(exc))}"
    duration_ms = round((time.perf_counter() - clock) * 1000)
    state = _next_state(code, number, secure=bool(secret))
    now = timezone.now()
    next_at = None
    if state == EventDelivery.State.RETRYING:
        delay = backoff_delay(
            number, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS, retry_after=retry_after
        )
        next_at = now + timedelta(seconds=delay)
    if code is not None and not error and state != EventDelivery.State.DELIVERED:
        error = f"the subscriber answered HTTP {code}"
    with transaction.atomic():
        EventDeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started_at,
            duration_ms=duration_ms,
            url=subscription.url,
            request_headers=redact_headers(headers),
            request_body=truncate(body, STORED_BODY_LIMIT),
            response_code=code,
            response_body=response_body,
            error=truncate(error, STORED_BODY_LIMIT),
        )
        EventDelivery.objects.filter(pk=delivery.pk, state=EventDelivery.State.SENDING).update(
            state=state,
            attempts=number,
            next_attempt_at=next_at,
            claim_expires_at=None,
            last_response_code=code,
            last_error=truncate(error, STORED_BODY_LIMIT),
            delivered_at=now if state == EventDelivery.State.DELIVERED else None,
            updated_at=now,
        )
    return state


def _next_state(code: int | None, number: int, *, secure: bool) -> str:
    if not secure:
        return EventDelivery.State.FAILED  # never send unsigned
    if code is not None and 200 <= code < 300:
        return EventDelivery.State.DELIVERED
    if code is not None and code < 500 and code not in RETRY_STATUSES:
        return EventDelivery.State.FAILED
    if number >= MAX_ATTEMPTS:
        return EventDelivery.State.DEAD
    return EventDelivery.State.RETRYING


def event_deliveries_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Hand back deliveries whose worker vanished, then queue every due delivery."""
    now = now or timezone.now()
    reclaimed = EventDelivery.objects.filter(
        state=EventDelivery.State.SENDING, claim_expires_at__lt=now
    ).update(state=EventDelivery.State.RETRYING, claim_expires_at=None, next_attempt_at=now)
    ids = list(
        EventDelivery.objects.filter(_due(now)).order_by("id").values_list("id", flat=True)[:2000]
    )
    _enqueue_quietly(ids)
    return {"reclaimed": reclaimed, "queued": len(ids)}
