"""The connection test over real HTTP, against each connector's simulator."""

import pytest
from django.core.cache import cache

from connectors.infor.simulator import M3Simulator
from connectors.models import Connection, System
from connectors.permissions import Verdict
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from connectors.services import connection_test
from connectors.tims.simulator import TimsSimulator

pytestmark = pytest.mark.django_db

LIMITED_KEY = "L" * 32


def test_prestashop_simulator_full_key_and_a_limited_one():
    with PrestaShopSimulator(seed=3, orders=0) as sim:
        full = Connection.objects.create(
            name="shop",
            system=System.PRESTASHOP,
            base_url=sim.base_url,
            credentials={"api_key": DEFAULT_KEY},
        )
        result = connection_test(connection=full)
        assert result.ok, result.message
        assert result.round_trip_ms > 0
        assert result.version
        # The simulator's default key may do everything: more than any flow needs.
        assert any(r.verdict is Verdict.MORE_THAN_NEEDED for r in result.permissions)

        sim.add_key(LIMITED_KEY, {"orders": ["GET", "DELETE"], "order_details": ["GET"]})
        limited = Connection.objects.create(
            name="shop-limited",
            system=System.PRESTASHOP,
            base_url=sim.base_url,
            credentials={"api_key": LIMITED_KEY},
        )
        result = connection_test(connection=limited)
    assert not result.ok
    rows = {r.operation: r for r in result.permissions}
    assert rows["GET orders"].verdict is Verdict.MAY
    assert rows["GET customers"].verdict is Verdict.MAY_NOT
    assert rows["DELETE orders"].verdict is Verdict.MORE_THAN_NEEDED
    limited.refresh_from_db()
    assert limited.last_check_ok is False
    assert "MISSING" in limited.last_check_message


def test_m3_simulator_token_and_reads():
    cache.clear()  # tokens are shared through the cache
    with M3Simulator(seed=3) as sim:
        connection = Connection.objects.create(
            name="m3",
            system=System.INFOR_M3,
            base_url=sim.base_url,
            credentials=sim.ionapi(),
            options={"cono": "100", "divi": "AAA"},
        )
        result = connection_test(connection=connection)
    assert result.ok, result.message
    assert result.token_ms is not None and result.round_trip_ms is not None
    reads = [r for r in result.permissions if r.verdict is not Verdict.NOT_PROBED]
    assert reads and all(r.verdict is Verdict.MAY for r in reads), reads
    assert any(r.verdict is Verdict.NOT_PROBED for r in result.permissions)


def test_tims_simulator():
    with TimsSimulator(seed=3) as sim:
        connection = Connection.objects.create(
            name="tims",
            system=System.TIMS,
            base_url=sim.base_url,
            credentials=sim.credentials.as_dict(),
            options=sim.connection_options(),
        )
        result = connection_test(connection=connection)
        assert result.ok, result.message
        assert result.round_trip_ms is not None
        assert {r.verdict for r in result.permissions} == {Verdict.MAY, Verdict.NOT_PROBED}

        connection.credentials = {**sim.credentials.as_dict(), "client_secret": "wrong-secret-1"}
        connection.save()
        cache.clear()
        result = connection_test(connection=connection)
    assert not result.ok
    assert "AuthError" in result.message
    assert "wrong-secret-1" not in result.message
