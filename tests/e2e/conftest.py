"""Simulators on free ports and an integration wired to them, for the order flows."""

from collections.abc import Iterator

import pytest

from connectors.infor.simulator import M3Simulator
from connectors.prestashop.simulator import PrestaShopSimulator
from connectors.tims.simulator import TimsSimulator
from integrations.flows.registry import clear_flow_cache
from integrations.management.commands.demo import drain, simulated_integration
from integrations.models import Integration, SyncRecord
from integrations.services.orders import order_sync_enqueue
from mappings.engine import clear_cache


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Flow instances (and their clients) and compiled mappings are cached per process.
    clear_flow_cache()
    clear_cache()
    yield
    clear_flow_cache()


@pytest.fixture
def shop() -> Iterator[PrestaShopSimulator]:
    with PrestaShopSimulator(seed=3, orders=0) as sim:
        yield sim


@pytest.fixture
def m3() -> Iterator[M3Simulator]:
    with M3Simulator(
        seed=3,
        customers=0,
        progress={"allocate": 10, "pick": 20, "deliver": 30, "invoice": 40, "pay": 50},
    ) as sim:
        yield sim


@pytest.fixture
def tims() -> Iterator[TimsSimulator]:
    with TimsSimulator(seed=3, step_seconds=60) as sim:
        yield sim


@pytest.fixture
def m3_integration(db, shop, m3) -> Integration:
    return simulated_integration(shop=shop, erp=m3)


@pytest.fixture
def tims_integration(db, shop, tims) -> Integration:
    return simulated_integration(shop=shop, erp=tims)


def place_and_sync(shop, integration, **order) -> SyncRecord:
    placed = shop.place_order(**{"state_id": 2, "stock": False, **order})
    record = order_sync_enqueue(
        integration=integration, order_id=str(placed["id"]), reference=placed["reference"]
    ).record
    drain(concurrency=1)
    record.refresh_from_db()
    return record
