"""Which integration a webhook URL names, and its secrets: cached briefly per process.

Every webhook would otherwise pay a query and a decryption before its own INSERT. Entries
live CACHE_SECONDS; a save or delete of an Integration in this process drops them at once, so
a rotated secret is used here immediately and by every other process within CACHE_SECONDS.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from integrations.models import Integration

CACHE_SECONDS = getattr(settings, "WEBHOOK_SECRET_CACHE_SECONDS", 2.0)


@dataclass(frozen=True)
class Target:
    integration_id: int
    slug: str
    webhook_secrets: Any


_cache: dict[str, tuple[float, Target | None]] = {}
_lock = threading.Lock()


def webhook_target(slug: str) -> Target | None:
    now = time.monotonic()
    hit = _cache.get(slug)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = Integration.objects.filter(slug=slug).only("id", "slug", "webhook_secrets").first()
    target = Target(row.pk, row.slug, row.webhook_secrets) if row else None
    with _lock:
        if len(_cache) > 10_000:  # unknown slugs must not grow it without bound
            _cache.clear()
        _cache[slug] = (now + CACHE_SECONDS, target)
    return target


def forget() -> None:
    with _lock:
        _cache.clear()


@receiver(post_save, sender=Integration, dispatch_uid="webhooks.targets.saved")
@receiver(post_delete, sender=Integration, dispatch_uid="webhooks.targets.deleted")
def _integration_changed(**kwargs: Any) -> None:
    forget()
