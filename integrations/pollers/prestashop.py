"""Shop streams: orders, customers and products changed since a date_upd cursor.

Reads only ids, date_upd (and the order reference): the record's flow reads the full resource
when it runs. Each page is its own query for [low, until] sorted by (date_upd, id), and the
next page starts AT the last date read (inclusive), never at an offset: a row edited during
the walk moves to a later date and is met again later in the walk, or by the next run, but
can never shift an unread row out of view. Only when a whole page shares one date is an
offset used within that date; the cursor then stops at that date, so the next run re-reads
it. Each run starts OVERLAP before the cursor (shop clocks, late commits) and the records'
idempotency keys absorb what is read twice.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from connectors.prestashop.client import EPOCH, PrestaShopClient, filter_between, filter_equals
from connectors.prestashop.translate import DATE_FORMAT, format_date
from integrations.models import Integration, SyncRecord
from integrations.pollers.base import Change, Poller
from integrations.pollers.registry import register

OVERLAP = timedelta(seconds=getattr(settings, "POLL_OVERLAP_SECONDS", 300))
# A stream's first run reads this far back, not the shop's whole history: connecting a shop
# must not replay years of orders into the ERP (import older ones on purpose, by cursor).
INITIAL_LOOKBACK = timedelta(hours=getattr(settings, "POLL_INITIAL_LOOKBACK_HOURS", 24))
# Rows per request: ids and dates only, so a large page is cheap.
PAGE_SIZE = 500
# The event a polled product becomes when it is our own last write coming back
# (integrations.webhooks.routing ignores it with that reason).
ECHO_EVENT = "product.echo"


class PrestaShopPoller(Poller):
    source = "prestashop"
    resource: str
    event_type: str
    display: str = "[id,date_upd]"

    def __init__(self, integration, client: PrestaShopClient | None = None) -> None:
        super().__init__(integration)
        self._client = client

    @property
    def client(self) -> PrestaShopClient:
        if self._client is None:
            self._client = PrestaShopClient.from_connection(self.integration.shop_connection)
        return self._client

    def window_start(self, cursor: str) -> str | None:
        if not cursor:
            start = datetime.now(self.client.timezone).replace(tzinfo=None) - INITIAL_LOOKBACK
        else:
            start = datetime.strptime(cursor, DATE_FORMAT) - OVERLAP
        return start.strftime(DATE_FORMAT)

    def fetch(self, since: str | None) -> Iterator[Change]:
        client = self.client
        high = format_date(datetime.now(client.timezone), client.timezone)
        low, skip = since or EPOCH, 0
        self.cursor_ceiling = None
        while True:
            rows = client.list_records(
                self.resource,
                filters={"date_upd": filter_between(low, high)},
                display=self.display,
                sort="[date_upd_ASC,id_ASC]",
                limit=f"{skip},{PAGE_SIZE}",
                date=True,
            )
            for row in rows:
                stamp = str(row["date_upd"])
                yield Change(self.event_type, {"resource": self.resource, **row}, cursor=stamp)
            if len(rows) < PAGE_SIZE:
                return
            last = str(rows[-1]["date_upd"])
            if last == low:
                # A full page at one date: page within it by offset, which an edit can shift;
                # the next run must read this date again.
                skip += PAGE_SIZE
                if self.cursor_ceiling is None:
                    self.cursor_ceiling = low
            else:
                low, skip = last, 0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@register("prestashop", "prestashop.orders")
class OrdersPoller(PrestaShopPoller):
    stream = "prestashop.orders"
    flow = "order_to_cash"
    resource = "orders"
    event_type = "order.updated"
    display = "[id,date_upd,reference]"


@register("prestashop", "prestashop.customers")
class CustomersPoller(PrestaShopPoller):
    stream = "prestashop.customers"
    flow = "customers"
    resource = "customers"
    event_type = "customer.updated"


@register("prestashop", "prestashop.products")
class ProductsPoller(PrestaShopPoller):
    """Products changed in the shop (the back office sends no webhook), keyed by their
    reference like the ERP scan, so both open the item's one record (integrations.flows.
    products). The combinations of each changed product follow it, keyed by their own
    reference. A product whose date_upd is exactly the one our own last write left
    (remembered by its record) is our echo and is dropped, so a write never bounces back.
    """

    stream = "prestashop.products"
    flow = "products"
    resource = "products"
    event_type = "product.updated"
    display = "[id,date_upd,reference]"

    def fetch(self, since: str | None) -> Iterator[Change]:
        page: list[Change] = []
        for change in super().fetch(since):
            page.append(change)
            if len(page) == PAGE_SIZE:
                yield from self._without_echoes(page)
                page = []
        if page:
            yield from self._without_echoes(page)

    def _without_echoes(self, page: list[Change]) -> Iterator[Change]:
        written = _last_written_dates(self.integration, [c.data.get("reference") for c in page])
        changed = []
        for change in page:
            reference = str(change.data.get("reference") or "")
            if reference and written.get(reference) == str(change.data.get("date_upd")):
                # Routed to an IgnoreRoute (counted as ignored), so the cursor still moves.
                yield Change(ECHO_EVENT, change.data, cursor=change.cursor)
            else:
                changed.append(change)
        combinations = self._combinations_of([c.data["id"] for c in changed])
        for change in changed:
            yield change
            for row in combinations.get(str(change.data["id"]), ()):
                # No cursor of its own (combinations have no date_upd): the product's moves it.
                yield Change(
                    "combination.updated",
                    {"resource": "combinations", "date_upd": change.data.get("date_upd"), **row},
                )

    def _combinations_of(self, product_ids: list[Any]) -> dict[str, list[dict[str, Any]]]:
        if not product_ids:
            return {}
        rows = self.client.list_records(
            "combinations",
            filters={"id_product": filter_equals(*product_ids)},
            display="[id,id_product,reference]",
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            found.setdefault(str(row.get("id_product")), []).append(row)
        return found


def _last_written_dates(integration: Integration, references: list[Any]) -> dict[str, str]:
    """{sku: the shop date_upd our last write to that product left}, from the item records."""
    keys = [f"product:{r}" for r in references if r not in (None, "")]
    if not keys:
        return {}
    rows = SyncRecord.objects.filter(
        integration=integration, flow="products", idempotency_key__in=keys
    ).values_list("source_id", "context")
    return {
        sku: str(((context or {}).get("memory") or {}).get("shop_date_upd") or "")
        for sku, context in rows
    }
