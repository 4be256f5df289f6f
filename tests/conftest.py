import pytest
from django.db import connection

from integrations.flows.registry import clear_flow_cache
from tests.support import flows as test_flows


@pytest.fixture(autouse=True)
def _reset_test_flow_counters():
    test_flows.LOADS.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_flow_instances():
    # Flow instances (and the clients they hold) are cached per process and per integration
    # id; ids repeat across tests, so a cached flow would talk to an earlier test's simulator.
    clear_flow_cache()
    yield
    clear_flow_cache()


@pytest.fixture
def on_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")
