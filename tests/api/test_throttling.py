"""The per-token throttle counts in Django's shared cache, so it holds across processes
(gunicorn workers): Redis when REDIS_URL is set (config.settings)."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.core.cache import cache

from integrations.api.throttling import ApiUserRateThrottle
from tests.api.conftest import VIEW_PERMS, make_user, token_client

pytestmark = pytest.mark.django_db

# Another process, configured by config.settings itself (not the test settings): records one
# request of user `pk` through the same throttle class and prints its cache backend.
OTHER_WORKER = """
import json, os, sys
from types import SimpleNamespace
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.conf import settings
from integrations.api.throttling import ApiUserRateThrottle
request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=int(sys.argv[1])))
allowed = ApiUserRateThrottle().allow_request(request, None)
print(json.dumps({"backend": settings.CACHES["default"]["BACKEND"], "allowed": allowed}))
"""


def test_throttle_uses_the_default_cache():
    # DRF's throttle reads django.core.cache.cache: whatever CACHES["default"] is.
    assert ApiUserRateThrottle.cache is cache


def test_throttled_request_is_429_with_a_reason(settings):
    settings.API_THROTTLE_RATE = "2/min"
    client = token_client(make_user("busy", VIEW_PERMS))
    assert [client.get("/api/v1/sync-records/").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/v1/sync-records/")
    assert refused.status_code == 429
    assert refused.json()["message"] and refused.json()["extra"]["retry_after_seconds"] >= 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a shared cache)")
def test_throttle_holds_across_processes(settings):
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": prefix,
        }
    }
    settings.API_THROTTLE_RATE = "3/min"
    user = make_user("shared", VIEW_PERMS)
    client = token_client(user)
    assert [client.get("/api/v1/sync-records/").status_code for _ in range(2)] == [200, 200]
    env = {**os.environ, "CACHE_KEY_PREFIX": prefix, "API_THROTTLE_RATE": "3/min"}
    other = subprocess.run(
        [sys.executable, "-c", OTHER_WORKER, str(user.pk)],
        env=env,
        cwd=str(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(other.stdout.strip().splitlines()[-1])
    assert seen == {"backend": "django.core.cache.backends.redis.RedisCache", "allowed": True}
    # The other worker's request counts here: this is the fourth of three.
    assert client.get("/api/v1/sync-records/").status_code == 429
