"""seed_demo: idempotent, and shows every part of the demo (both ERPs, two shops, the assistant)."""

import pytest
from django.core.management import call_command

from integrations.models import Integration, SyncRecord

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_is_idempotent_and_shows_the_assistant():
    call_command("seed_demo")
    call_command("seed_demo")
    assert set(Integration.objects.values_list("slug", flat=True)) == {
        "demo",
        "demo-tims",
        "demo-shop-2",
        "demo-assistant",
    }
    assert not Integration.objects.get(slug="demo-assistant").is_active
    held = SyncRecord.objects.get(integration__slug="demo-assistant", status="needs_attention")
    assert "total" in held.error_message.lower()
