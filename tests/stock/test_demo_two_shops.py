"""The demo's stock set-up: one M3 feeding two shops through item value maps."""

import pytest

from connectors.infor.simulator.server import M3Simulator
from connectors.prestashop.simulator import PrestaShopSimulator
from integrations.demo import demo_seed
from integrations.flows.stock_demo import SECOND_SHOP_SEED, demo_stock_seed
from integrations.services.stock import stock_reconcile_full
from tests.stock.conftest import run_inventory_records, shop_quantity, shop_skus

pytestmark = pytest.mark.django_db


def point_at(integration, shop_sim, m3_sim):
    shop_conn = integration.shop_connection
    shop_sim.add_key(shop_conn.credentials["api_key"])
    shop_conn.base_url = shop_sim.base_url
    shop_conn.save()
    erp = integration.erp_connection
    erp.base_url = m3_sim.base_url
    erp.credentials = m3_sim.ionapi()
    erp.save()


def test_the_demo_feeds_two_shops_from_one_m3():
    demo_seed()
    stock = demo_stock_seed()
    assert demo_stock_seed().second.pk == stock.second.pk  # idempotent
    assert stock.first.erp_connection_id == stock.second.erp_connection_id
    with (
        PrestaShopSimulator(seed=1, orders=0) as first_shop,
        PrestaShopSimulator(seed=SECOND_SHOP_SEED, orders=0) as second_shop,
        M3Simulator(seed=1) as m3,
    ):
        point_at(stock.first, first_shop, m3)
        point_at(stock.second, second_shop, m3)
        for integration, shop in ((stock.first, first_shop), (stock.second, second_shop)):
            integration.refresh_from_db()
            run = stock_reconcile_full(integration=integration)
            assert run.report["not_in_erp"] == 0 and run.report["items"] == len(shop_skus(shop))
            run_inventory_records(integration)
        balances = m3.state.balances
        # Shop 2 publishes warehouse 100 only, less a buffer of 2; shop 1 both warehouses.
        sku = sorted(shop_skus(second_shop))[0]
        stock_100 = balances[("100", "PS-1001")]["STQT"] - balances[("100", "PS-1001")]["ALQT"]
        assert shop_quantity(second_shop, sku) == max(0, int(stock_100) - 2)
        sku = sorted(shop_skus(first_shop))[0]
        both = sum(balances[(w, "PS-1001")]["STQT"] for w in ("100", "200"))
        assert shop_quantity(first_shop, sku) == int(both)
