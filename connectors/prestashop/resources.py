"""One small declaration per Webservice endpoint: URL path, XML element names, what it allows.

`methods` is what PrestaShop itself allows on the resource (reference §3: stock_availables
has no POST/DELETE, by design); what a given key may do is read from `GET /api/` (check.py).
"""

from dataclasses import dataclass

READ = frozenset({"GET", "HEAD"})
READ_WRITE = frozenset({"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"})


@dataclass(frozen=True)
class Resource:
    name: str  # URL segment and XML list wrapper, e.g. "orders"
    element: str  # XML element of one record, e.g. "order"
    methods: frozenset[str] = READ_WRITE
    # Field incremental reads follow (needs `date=1`), or None when the resource has none.
    date_field: str | None = "date_upd"

    @property
    def path(self) -> str:
        return self.name


ORDERS = Resource("orders", "order")
ORDER_DETAILS = Resource("order_details", "order_detail", date_field=None)
ORDER_HISTORIES = Resource("order_histories", "order_history", date_field="date_add")
ORDER_STATES = Resource("order_states", "order_state", date_field=None)
ORDER_CARRIERS = Resource("order_carriers", "order_carrier", date_field="date_add")
ORDER_PAYMENTS = Resource("order_payments", "order_payment", date_field="date_add")
ORDER_INVOICES = Resource("order_invoices", "order_invoice", date_field="date_add")
CUSTOMERS = Resource("customers", "customer")
ADDRESSES = Resource("addresses", "address")
PRODUCTS = Resource("products", "product")
COMBINATIONS = Resource("combinations", "combination", date_field=None)
# Rows are created and deleted by PrestaShop itself, never through the API (reference §3).
STOCK_AVAILABLES = Resource(
    "stock_availables", "stock_available", frozenset({"GET", "HEAD", "PUT", "PATCH"}), None
)
CURRENCIES = Resource("currencies", "currency", date_field=None)
COUNTRIES = Resource("countries", "country", date_field=None)
CARRIERS = Resource("carriers", "carrier", date_field=None)
SHOPS = Resource("shops", "shop", date_field=None)
LANGUAGES = Resource("languages", "language", date_field=None)

ALL: tuple[Resource, ...] = (
    ORDERS,
    ORDER_DETAILS,
    ORDER_HISTORIES,
    ORDER_STATES,
    ORDER_CARRIERS,
    ORDER_PAYMENTS,
    ORDER_INVOICES,
    CUSTOMERS,
    ADDRESSES,
    PRODUCTS,
    COMBINATIONS,
    STOCK_AVAILABLES,
    CURRENCIES,
    COUNTRIES,
    CARRIERS,
    SHOPS,
    LANGUAGES,
)
BY_NAME: dict[str, Resource] = {r.name: r for r in ALL}
BY_ELEMENT: dict[str, Resource] = {r.element: r for r in ALL}


def resource(name: str) -> Resource:
    """The declaration for a resource name; the error lists the names that exist."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown PrestaShop resource {name!r}; known: {', '.join(sorted(BY_NAME))}"
        ) from None
