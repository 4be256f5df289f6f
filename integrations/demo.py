"""The demo's data: connections to the built-in simulators and one integration between them.

Ports are fixed so the demo's URLs are stable; credentials are generated once per database.
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from connectors.infor.simulator.server import M3Simulator
from connectors.models import Connection, System
from integrations.models import Integration
from integrations.services.orders import (
    order_mappings_install,
    order_simulator_mappings,
    simulator_item_map,
)

DEMO_SLUG = "demo"
DEMO_TIMS_SLUG = "demo-tims"
DEMO_ASSISTANT_SLUG = "demo-assistant"
# The simulators' seed: the M3 simulator derives the credentials it accepts from it.
SIMULATOR_SEED = 1
PRESTASHOP_PORT = 8101
M3_PORT = 8102
TIMS_PORT = 8103
DEMO_ADMIN_USERNAME = "admin"
# Flows the demo integration runs: shop orders into the ERP and its progress back.
DEMO_FLOWS = ("order_to_cash", "status_back")


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
            # The .ionapi file the simulator started with this seed and port would write.
            "credentials": M3Simulator(seed=SIMULATOR_SEED, port=M3_PORT).ionapi(),
            "options": {"cono": "100", "divi": "AAA"},
        },
    )
    tims, _ = Connection.objects.get_or_create(
        name="Demo TIMS (simulator)",
        defaults={
            "system": System.TIMS,
            "base_url": f"http://127.0.0.1:{TIMS_PORT}/api/v1",
            "credentials": {"api_key": secrets.token_urlsafe(24)},
            "options": {"profile": {"auth_mode": "api_key_header"}},
        },
    )
    integration, created = Integration.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo shop ⇄ Infor M3",
            "shop_connection": shop,
            "erp_connection": m3,
            "enabled_flows": list(DEMO_FLOWS),
            "base_currency": "EUR",
            "webhook_secrets": {"prestashop": [f"whsec_{secrets.token_urlsafe(24)}"]},
            "options": {
                "order_to_cash": {
                    "item_value_map": simulator_item_map(System.INFOR_M3),
                    # The M3 simulator's seeded customers share the shop's e-mails under
                    # other names: the demo links by e-mail instead of stopping each order.
                    "customer_match_fields": [],
                }
            },
        },
    )
    # The same shop's orders also go to TIMS, so the demo shows both ERPs side by side.
    to_tims, tims_created = Integration.objects.get_or_create(
        slug=DEMO_TIMS_SLUG,
        defaults={
            "name": "Demo shop ⇄ TIMS",
            "shop_connection": shop,
            "erp_connection": tims,
            "enabled_flows": list(DEMO_FLOWS),
            "base_currency": "USD",
            "webhook_secrets": {"prestashop": [f"whsec_{secrets.token_urlsafe(24)}"]},
            "options": {
                "order_to_cash": {
                    "item_value_map": simulator_item_map(System.TIMS),
                    "customer_match_fields": [],
                }
            },
        },
    )
    for each, new in ((integration, created), (to_tims, tims_created)):
        if new:
            # Default mappings installed and promoted, with the simulators' values added.
            order_simulator_mappings(integration=each)
        else:
            order_mappings_install(integration=each)  # idempotent: choices are kept
    # One M3 feeding two shops' stock (integrations.flows.stock_demo); imported here because
    # that module builds on this one.
    from integrations.flows.stock_demo import demo_stock_seed

    demo_stock_seed()
    # The assistant's showcase (one mapping suggestion, one held anomaly) on an integration of
    # its own, kept inactive: its synthetic order history must not judge the live demo's orders.
    from integrations.anomalies import assistant_demo_seed

    showcase, _ = Integration.objects.get_or_create(
        slug=DEMO_ASSISTANT_SLUG,
        defaults={
            "name": "Assistant showcase (inactive)",
            "shop_connection": shop,
            "erp_connection": m3,
            "enabled_flows": ["order_to_cash"],
            "is_active": False,
            "webhook_secrets": {},
        },
    )
    assistant_demo_seed(integration=showcase)
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


def demo_simulator_commands() -> dict[str, list[str]]:
    """`manage.py simulate …` arguments for each demo simulator, matching the stored
    connections (the keys the shop and TIMS simulators must accept)."""
    from integrations.flows.stock_demo import SECOND_SHOP_NAME, SECOND_SHOP_PORT, SECOND_SHOP_SEED

    shop = Connection.objects.get(name="Demo shop (PrestaShop simulator)")
    shop2 = Connection.objects.get(name=SECOND_SHOP_NAME)
    tims = Connection.objects.get(name="Demo TIMS (simulator)")
    seed = ["--seed", str(SIMULATOR_SEED)]
    return {
        "prestashop-2": [
            "prestashop",
            "--port",
            str(SECOND_SHOP_PORT),
            "--seed",
            str(SECOND_SHOP_SEED),
            "--key",
            shop2.credentials["api_key"],
        ],
        "prestashop": [
            "prestashop",
            "--port",
            str(PRESTASHOP_PORT),
            *seed,
            "--key",
            shop.credentials["api_key"],
            "--orders-per-minute",
            "6",
        ],
        # Orders move on a minute a second, so delivery, invoice and payment come back soon.
        "m3": ["m3", "--port", str(M3_PORT), *seed, "--time-scale", "60"],
        "tims": [
            "tims",
            "--port",
            str(TIMS_PORT),
            *seed,
            "--auth-mode",
            "api_key_header",
            "--api-key",
            tims.credentials["api_key"],
            "--step-seconds",
            "10",
        ],
    }
