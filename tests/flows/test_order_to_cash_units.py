import pytest

from connectors.errors import PermanentError
from integrations.flows.order_to_cash import OrderOptions
from integrations.flows.registry import FLOWS
from integrations.services.customers import customer_diff, customer_key


def test_both_flows_are_registered_under_their_names():
    assert FLOWS["order_to_cash"].entity == "order"
    assert FLOWS["status_back"].direction == "erp_to_shop"


def test_options_default_to_skipping_payment_error_and_cancelled_and_creating_backorders():
    options = OrderOptions.of({})
    assert options.skip_states == {"payment_error", "cancelled"}
    assert options.item_resolution == ("link", "reference", "ean")
    assert options.backorder == "create"
    assert options.customer_match_fields == ("name", "postcode", "country")


@pytest.mark.parametrize(
    ("raw", "field", "value"),
    [
        ({"backorder": "maybe"}, "options.order_to_cash.backorder", "maybe"),
        ({"item_resolution": ["link", "gtin"]}, "options.order_to_cash.item_resolution", "gtin"),
    ],
)
def test_a_bad_option_names_the_option_and_value(raw, field, value):
    with pytest.raises(PermanentError) as caught:
        OrderOptions.of(raw)
    assert (caught.value.field, caught.value.value) == (field, value)


def test_customer_diff_ignores_case_spacing_empty_values_and_erp_truncation():
    shop = {"name": "Alice  MARTIN", "postcode": "69002", "country": "FR", "city": ""}
    assert (
        customer_diff(
            shop,
            {"name": "alice martin", "postcode": "", "city": "Lyon"},
            ["name", "postcode", "city"],
        )
        == []
    )
    assert (
        customer_diff(
            {"name": "A very long company name SARL"}, {"name": "A very long company"}, ["name"]
        )
        == []
    )
    assert customer_diff(shop, {"name": "Bob", "country": "DE"}, ["name", "country"]) == [
        {"field": "name", "shop": "Alice  MARTIN", "erp": "Bob"},
        {"field": "country", "shop": "FR", "erp": "DE"},
    ]


def test_customer_key_is_the_lower_case_email_or_a_hash_when_too_long():
    assert customer_key(" Alice@Example.COM ") == "alice@example.com"
    long = "a" * 120 + "@example.com"
    assert customer_key(long).startswith("sha256:") and len(customer_key(long)) <= 100
