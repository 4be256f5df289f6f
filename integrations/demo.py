"""The demo's data: connections to the built-in simulators and one integration between them.

Ports are fixed so the demo's URLs are stable; credentials are generated once per database.
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from connectors.models import Connection, System
from integrations.models import Integration

DEMO_SLUG = "demo"
PRESTASHOP_PORT = 8101
M3_PORT = 8102
TIMS_PORT = 8103
DEMO_ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class DemoSeed:
    integration: Integration
    created: bool


@transaction.atomic
def demo_seed() -> DemoSeed:
    """Create the demo connections and integration if missing; never touches existing ones."""
    shop, _ = Connection.objects.get_or_create(
        name="Demo shop (PrestaShop simulator)",
        defaults={
            "system": System.PRESTASHOP,
            "base_url": f"http://127.0.0.1:{PRESTASHOP_PORT}/api",
            # PrestaShop webservice keys are 32 characters [A-Z0-9].
            "credentials": {
                "api_key": "".join(
                    secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(32)
                )
            },
            "options": {"version": "8", "timezone": "Europe/Paris"},
        },
    )
    m3, _ = Connection.objects.get_or_create(
        name="Demo Infor M3 (simulator)",
        defaults={
            "system": System.INFOR_M3,
            "base_url": f"http://127.0.0.1:{M3_PORT}",
            "credentials": {
                "ci": f"DEMO_TENANT~{secrets.token_urlsafe(12)}",
                "cs": secrets.token_urlsafe(32),
                "saak": f"DEMO_TENANT#{secrets.token_urlsafe(24)}",
                "sask": secrets.token_urlsafe(32),
                "ti": "DEMO_TENANT",
                "iu": f"http://127.0.0.1:{M3_PORT}",
                "pu": f"http://127.0.0.1:{M3_PORT}/DEMO_TENANT/as/",
                "ot": "token.oauth2",
            },
            "options": {"cono": "100", "divi": "AAA"},
        },
    )
    Connection.objects.get_or_create(
        name="Demo TIMS (simulator)",
        defaults={
            "system": System.TIMS,
            "base_url": f"http://127.0.0.1:{TIMS_PORT}/api/v1",
            "credentials": {"api_key": secrets.token_urlsafe(24)},
        },
    )
    integration, created = Integration.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo shop ⇄ Infor M3",
            "shop_connection": shop,
            "erp_connection": m3,
            "enabled_flows": [],
            "base_currency": "EUR",
            "webhook_secrets": {"prestashop": [f"whsec_{secrets.token_urlsafe(24)}"]},
        },
    )
    return DemoSeed(integration=integration, created=created)


def demo_admin_ensure(*, password: str | None) -> str | None:
    """Create the demo superuser if missing; returns the password only when it was generated."""
    User = get_user_model()
    if User.objects.filter(username=DEMO_ADMIN_USERNAME).exists():
        if password:
            user = User.objects.get(username=DEMO_ADMIN_USERNAME)
            user.set_password(password)
            user.save(update_fields=["password"])
        return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    User.objects.create_superuser(DEMO_ADMIN_USERNAME, "admin@example.com", password)
    return generated
