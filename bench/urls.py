"""The webhook benchmark's WSGI app: the real endpoint beside a bare view on the same stack.

    gunicorn bench.urls:application

Imported by gunicorn, this module sets Django up with bench.settings (DATABASE_URL decides
the database) and serves itself as the URLconf, so the bare view never reaches the
production URLs.
"""

import os
import uuid

import django
from django.apps import apps
from django.conf import settings

if not apps.ready:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup(set_prefix=False)
    settings.ROOT_URLCONF = __name__
    # config/settings.py means persistent connections (CONN_MAX_AGE 60 by default), but
    # django-environ's DATABASE_URL already carries CONN_MAX_AGE=0, so its setdefault never
    # applies; the benchmark measures the intended set-up (reported to the lead).
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", 60))

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from integrations.models import WebhookEvent


@csrf_exempt
def bare_insert(request: HttpRequest, integration_id: int) -> JsonResponse:
    """Stores the body as one row and answers: the floor our endpoint is compared with."""
    WebhookEvent.objects.create(
        integration_id=integration_id,
        source="bare",
        event_id=uuid.uuid4().hex,
        body=request.body.decode(),
    )
    return JsonResponse({"status": "accepted"}, status=202)


urlpatterns = [
    path("webhooks/", include("integrations.webhooks.urls")),
    path("bare/<int:integration_id>/", bare_insert),
]

application = WSGIHandler()
