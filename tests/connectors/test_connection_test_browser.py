"""In a real browser (Debian's chromium): an Integration admin clicks "Test connection" on
the demo connection and reads what the key may and may not do, and the round trip."""

from contextlib import contextmanager

import pytest

from connectors.models import Connection, System
from connectors.prestashop.simulator import PrestaShopSimulator
from tests.console.conftest import SCREENSHOTS, login, page, user_in  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIMITED_KEY = "B" * 32


@contextmanager
def screenshot_on_failure(browser_page, name: str):
    try:
        yield
    except BaseException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser_page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        raise


def test_admin_clicks_test_connection_on_the_demo_connection(
    page,  # noqa: F811 (the chromium page fixture, imported above)
    live_server,
    django_user_model,
):
    with PrestaShopSimulator(seed=3, orders=0) as sim:
        # The demo shop's key, cut down: no order histories (status back breaks), and DELETE
        # on orders (no flow needs it).
        sim.add_key(
            LIMITED_KEY,
            {
                "orders": ["GET", "DELETE"],
                "order_details": ["GET"],
                "customers": ["GET"],
                "addresses": ["GET"],
            },
        )
        connection = Connection.objects.create(
            name="demo shop",
            system=System.PRESTASHOP,
            base_url=sim.base_url,
            credentials={"api_key": LIMITED_KEY},
        )
        user_in(django_user_model, "Integration admin", username="integrator")
        with screenshot_on_failure(page, "test_connection_button"):
            login(page, live_server.url, "integrator")
            page.goto(f"{live_server.url}/admin/connectors/connection/{connection.pk}/change/")
            page.click("#test-connection")
            box = page.locator(f"#connection-test-{connection.pk}")
            assert box.locator(".test-outcome").inner_text() == "FAILING"
            assert box.locator(".round-trip").inner_text().endswith(" ms")
            row = box.locator("tr.permission", has_text="POST order_histories")
            assert row.locator(".verdict").inner_text() == "may not"
            row = box.locator("tr.permission", has_text="DELETE orders")
            assert row.locator(".verdict").inner_text() == "more than needed"
            row = box.locator("tr.permission", has_text="GET orders").first
            assert row.locator(".verdict").inner_text() == "may"
            # The outcome is kept on the connection (the list's "Check" column).
            page.goto(f"{live_server.url}/admin/connectors/connection/")
            assert "failing" in page.locator("#result_list").inner_text()
    connection.refresh_from_db()
    assert connection.last_check_ok is False
