"""Demo: one M3 feeding two shops' stock. Called from the demo seed (integrations.demo).

    from integrations.flows.stock_demo import demo_stock_seed
    result = demo_stock_seed()      # after demo_seed(); idempotent
    result.second_shop_command      # `manage.py simulate …` args for the second shop

The demo simulators do not share references (PrestaShop seeds SIM-0001, SIM-0001-S…; M3
seeds PS-1001…), so each shop gets a value map from its references to M3 items, built from
the same seeded catalogue the shop simulator starts with, and the inventory flow's
`item_value_map` option names it.
"""

import secrets
from dataclasses import dataclass

from django.db import transaction

from connectors.models import Connection, System
from connectors.prestashop.simulator.state import seed_state
from integrations.demo import DEMO_SLUG, SIMULATOR_SEED
from integrations.models import Integration

SECOND_SHOP_SLUG = "demo-shop-2"
SECOND_SHOP_NAME = "Demo shop 2 (PrestaShop simulator)"
SECOND_SHOP_PORT = 8104
SECOND_SHOP_SEED = 2
# Products the shop simulator seeds by default (its CLI's --products) and M3 items it has.
SHOP_PRODUCTS = 12
M3_ITEMS = 40


@dataclass(frozen=True)
class DemoStock:
    first: Integration
    second: Integration
    second_shop_command: list[str]


def demo_item_map(*, name: str, seed: int) -> str:
    """A value map from a seeded demo shop's SKUs to the demo M3's items (PS-1001…)."""
    from mappings.models import ValueMap, ValueMapEntry

    state = seed_state(seed=seed, products=SHOP_PRODUCTS, customers=0, orders=0)
    with_combinations = {c["id_product"] for c in state.tables["combinations"].values()}
    skus = [c["reference"] for c in state.tables["combinations"].values()]
    skus += [
        p["reference"]
        for p in state.tables["products"].values()
        if p["id"] not in with_combinations
    ]
    value_map, _ = ValueMap.objects.get_or_create(
        name=name, defaults={"description": "Demo: shop references -> M3 items"}
    )
    for n, sku in enumerate(sorted(skus)):
        ValueMapEntry.objects.get_or_create(
            value_map=value_map,
            source_value=sku,
            defaults={"target_value": f"PS-{1001 + n % M3_ITEMS}"},
        )
    return name


@transaction.atomic
def demo_stock_seed(*, second_shop_port: int = SECOND_SHOP_PORT) -> DemoStock:
    """Publish the demo M3's stock to the demo shop and to a second shop (created here, on
    the same M3 connection, with a buffer of 2 and warehouse 100 only)."""
    first = Integration.objects.select_related("erp_connection").get(slug=DEMO_SLUG)
    if "inventory" not in (first.enabled_flows or []):
        first.enabled_flows = [*(first.enabled_flows or []), "inventory"]
    first.options = {
        **(first.options or {}),
        "inventory": {
            "warehouses": ["100", "200"],
            "item_value_map": demo_item_map(name="demo-shop-1-items", seed=SIMULATOR_SEED),
            **(first.options or {}).get("inventory", {}),
        },
    }
    first.save()
    shop, _ = Connection.objects.get_or_create(
        name=SECOND_SHOP_NAME,
        defaults={
            "system": System.PRESTASHOP,
            "base_url": f"http://127.0.0.1:{second_shop_port}/api",
            "credentials": {
                "api_key": "".join(
                    secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(32)
                )
            },
            "options": {"version": "8", "timezone": "Europe/Paris"},
        },
    )
    second, _ = Integration.objects.get_or_create(
        slug=SECOND_SHOP_SLUG,
        defaults={
            "name": "Demo shop 2 ⇄ Infor M3 (stock only)",
            "shop_connection": shop,
            "erp_connection": first.erp_connection,
            "enabled_flows": ["inventory"],
            "base_currency": "EUR",
            "webhook_secrets": {},
            "options": {
                "inventory": {
                    "buffer": 2,
                    "warehouses": ["100"],
                    "item_value_map": demo_item_map(
                        name="demo-shop-2-items", seed=SECOND_SHOP_SEED
                    ),
                }
            },
        },
    )
    command = [
        "prestashop",
        "--port",
        str(second_shop_port),
        "--seed",
        str(SECOND_SHOP_SEED),
        "--key",
        shop.credentials["api_key"],
    ]
    return DemoStock(first=first, second=second, second_shop_command=command)
