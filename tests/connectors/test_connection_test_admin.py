"""The "Test connection" action and button: only an Integration admin (or superuser) may run
them; the result page shows may / may not per operation and the round trip."""

import pytest

from connectors.models import Connection, System
from connectors.prestashop.simulator import DEFAULT_KEY, PrestaShopSimulator
from tests.console.conftest import user_in

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/connectors/connection/"


@pytest.fixture
def shop_connection():
    with PrestaShopSimulator(seed=3, orders=0) as sim:
        yield Connection.objects.create(
            name="demo shop",
            system=System.PRESTASHOP,
            base_url=sim.base_url,
            credentials={"api_key": DEFAULT_KEY},
        )


def test_integration_admin_runs_the_action_from_the_list(
    client, django_user_model, shop_connection
):
    client.force_login(user_in(django_user_model, "Integration admin"))
    response = client.post(
        CHANGELIST, {"action": "test_connections", "_selected_action": [shop_connection.pk]}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="connection-test-{shop_connection.pk}"' in html
    assert "answered GET /api/ in" in html
    assert "more than needed" in html
    shop_connection.refresh_from_db()
    assert shop_connection.last_check_ok is True


def test_the_button_on_the_change_page(client, django_user_model, shop_connection):
    client.force_login(user_in(django_user_model, "Integration admin"))
    page = client.get(f"{CHANGELIST}{shop_connection.pk}/change/").content.decode()
    assert 'id="test-connection"' in page
    url = f"{CHANGELIST}{shop_connection.pk}/test/"
    assert client.get(url).status_code == 405  # it calls the system: POST only
    response = client.post(url)
    assert response.status_code == 200
    assert 'class="round-trip"' in response.content.decode()


@pytest.mark.parametrize("role", ["Operator", "Viewer"])
def test_others_may_not_test(client, django_user_model, shop_connection, role):
    client.force_login(user_in(django_user_model, role))
    page = client.get(f"{CHANGELIST}{shop_connection.pk}/change/")
    assert page.status_code == 200
    assert 'id="test-connection"' not in page.content.decode()
    assert client.post(f"{CHANGELIST}{shop_connection.pk}/test/").status_code == 403
    listing = client.get(CHANGELIST).content.decode()
    assert "test_connections" not in listing
    client.post(
        CHANGELIST, {"action": "test_connections", "_selected_action": [shop_connection.pk]}
    )
    shop_connection.refresh_from_db()
    assert shop_connection.last_check_at is None  # nothing ran
