"""Per-token (per-user) request rate, read from settings on each request."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ApiUserRateThrottle(UserRateThrottle):
    scope = "api"

    def get_rate(self) -> str | None:
        return getattr(settings, "API_THROTTLE_RATE", "1200/min") or None
