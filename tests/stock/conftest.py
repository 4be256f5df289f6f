"""Simulators and integrations for the stock tests: one M3 feeding one or two shops."""

from decimal import Decimal

import pytest

from connectors.infor.simulator.server import M3Simulator
from connectors.models import Connection, System
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from integrations.models import Integration, SyncRecord
from integrations.pipeline import process_records
from tests.factories import IntegrationFactory


@pytest.fixture
def m3():
    with M3Simulator(seed=5, items=0, customers=2) as sim:
        yield sim


@pytest.fixture
def shop():
    with PrestaShopSimulator(seed=3, products=6, customers=2, orders=0) as sim:
        yield sim


@pytest.fixture
def shop2():
    with PrestaShopSimulator(seed=4, products=6, customers=2, orders=0) as sim:
        yield sim


def shop_skus(sim: PrestaShopSimulator) -> dict[str, tuple[int, int]]:
    """SKU -> (product, combination) of every sellable item of a simulated shop."""
    tables = sim.state.tables
    with_combos = {c["id_product"] for c in tables["combinations"].values()}
    skus = {c["reference"]: (c["id_product"], c["id"]) for c in tables["combinations"].values()}
    for product in tables["products"].values():
        if product["id"] not in with_combos:
            skus[product["reference"]] = (product["id"], 0)
    return skus


def shop_quantity(sim: PrestaShopSimulator, sku: str) -> int:
    product_id, attribute_id = shop_skus(sim)[sku]
    return sim.state.stock_row(product_id, attribute_id)["quantity"]


def m3_stock(sim: M3Simulator, itno: str, **by_warehouse: int) -> None:
    """Create (or set) an M3 item's on-hand stock per warehouse (w100=…, w200=…)."""
    state = sim.state
    with state.lock:
        state.items.setdefault(
            itno,
            {
                "ITNO": itno,
                "STAT": "20",
                "ITDS": f"Item {itno}",
                "FUDS": "",
                "RESP": "SIM",
                "UNMS": "EA",
                "ITGR": "HOME",
                "ITCL": "GEN",
                "ITTY": "FG",
                "NEWE": "1",
                "GRWE": "1",
                "SALE": "1",
                "SPUN": "EA",
                "LMDT": state.today(),
                "SAPR": "10",
                "CUCS": "EUR",
            },
        )
        for key, quantity in by_warehouse.items():
            whlo = key.removeprefix("w")
            balance = state.balances.setdefault(
                (whlo, itno),
                {k: Decimal(0) for k in ("STQT", "ALQT", "QUQT", "RJQT", "PLQT", "ORQT", "REQT")},
            )
            balance["STQT"] = Decimal(quantity)


def make_integration(shop_sim, m3_sim, **inventory_options) -> Integration:
    shop_conn = Connection.objects.create(
        system=System.PRESTASHOP,
        name=f"shop {shop_sim.base_url}",
        base_url=shop_sim.base_url,
        credentials={"api_key": DEFAULT_KEY},
        options={"version": "8"},
    )
    erp_conn = Connection.objects.filter(system=System.INFOR_M3, base_url=m3_sim.base_url).first()
    if erp_conn is None:
        erp_conn = Connection.objects.create(
            system=System.INFOR_M3,
            name=f"m3 {m3_sim.base_url}",
            base_url=m3_sim.base_url,
            credentials=m3_sim.ionapi(),
            options={"cono": "100", "divi": "AAA", "warehouses": "100,200"},
        )
    return IntegrationFactory(
        shop_connection=shop_conn,
        erp_connection=erp_conn,
        enabled_flows=["inventory"],
        options={"inventory": {"reserve_recent_orders": False, **inventory_options}},
    )


def run_inventory_records(integration: Integration) -> dict:
    ids = list(
        SyncRecord.objects.filter(
            integration=integration, flow="inventory", status="pending"
        ).values_list("id", flat=True)
    )
    return process_records(ids=ids, limit=max(1, len(ids)), concurrency=1).as_dict()
