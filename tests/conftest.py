import pytest
from django.db import connection

from tests.support import flows as test_flows


@pytest.fixture(autouse=True)
def _reset_test_flow_counters():
    test_flows.LOADS.clear()
    yield


@pytest.fixture
def on_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")
