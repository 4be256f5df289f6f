"""TIMS REST client over the configurable profile.

ASSUMED INTERFACE. TIMS (Computers Unlimited) publishes no API specification. The paths,
auth modes, paging, field names and error bodies used by default are OUR DESIGN, labelled as
assumed (connectors/tims/README.md, reference note §4); a real installation is reached by
changing the profile in Connection.options["profile"], not this code.

Reads return canonical documents (Customer, Address, Product, StockLevel, Shipment, Invoice,
Payment); sales orders are read and written as `records.SalesOrder`, the payload a mapping
builds (location_id, will_call, blanket_po, override_backorder, fees apart from tax).

Creating is safe to repeat: every create first looks the record up by its natural key
(customer_po for orders, reference for payments) and sends an Idempotency-Key; a 409 on a
duplicate customer_po is answered with the existing order. The POST itself is never retried
by this layer (connectors/http.py).
"""

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import requests

from connectors.canonical import Address, Customer, Invoice, Payment, Product, Shipment, StockLevel
from connectors.errors import (
    AuthError,
    ConnectorError,
    DataError,
    NotFoundError,
    PermanentError,
    TransientError,
)
from connectors.http import ClientOptions, HttpClient, classify_response
from connectors.paging import CursorPaginator, PagedReader, PagePaginator, Paginator
from connectors.redaction import redact_text, register_secret
from connectors.tims.auth import ClientCredentialsToken
from connectors.tims.profile import AuthMode, Operation, PagingStyle, TimsProfile
from connectors.tims.records import (
    CustomerRecord,
    InvoiceRecord,
    ItemRecord,
    PaymentRecord,
    SalesOrder,
    ShipmentRecord,
    ShipTo,
    StockRecord,
)
from connectors.tims.translate import (
    address_from_ship_to,
    customer_from_record,
    invoice_from_record,
    parse_record,
    payment_from_record,
    product_from_item,
    shipment_from_record,
    stock_from_record,
)

SYSTEM = "tims"
# Status codes whose body is TIMS's (assumed) {"error": {"code", "message", "field"}}.
ERROR_BODY_STATUSES = frozenset({400, 404, 409, 422})

T = TypeVar("T")
R = TypeVar("R")


class ConflictError(PermanentError):
    """HTTP 409: the record exists already; `existing` is its key when TIMS says it."""

    def __init__(self, message: str, *, existing: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.existing = existing


@dataclass(frozen=True)
class Created(Generic[T]):
    """What a create returns: the record, and whether this call made it (False: it existed)."""

    document: T
    created: bool


class TimsClient(HttpClient):
    system = SYSTEM

    def __init__(
        self,
        profile: TimsProfile,
        credentials: Mapping[str, Any] | None = None,
        *,
        options: ClientOptions | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not profile.base_url:
            raise DataError("TIMS profile has no base_url", field="profile.base_url")
        super().__init__(profile.base_url, options=options, session=session, sleep=sleep)
        self.profile = profile
        self.credentials = dict(credentials or {})
        register_secret(
            [str(self.credentials.get(k) or "") for k in ("client_secret", "api_key", "password")]
        )
        self._local = threading.local()
        self.token: ClientCredentialsToken | None = None
        if profile.auth_mode is AuthMode.CLIENT_CREDENTIALS:
            self.token = ClientCredentialsToken(
                token_url=self.url(profile.token_path),
                client_id=str(self.credentials.get("client_id") or ""),
                client_secret=str(self.credentials.get("client_secret") or ""),
                scope=profile.scope,
                auth_method=profile.token_auth_method,
                default_lifetime=profile.token_lifetime,
                session=self.session,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
                clock=clock,
            )
        elif profile.auth_mode is AuthMode.API_KEY_HEADER and not self.credentials.get("api_key"):
            raise AuthError("TIMS credentials need api_key for api_key_header", field="api_key")
        elif profile.auth_mode is AuthMode.BASIC and not self.credentials.get("username"):
            raise AuthError("TIMS credentials need username and password", field="username")

    @classmethod
    def from_connection(cls, connection: Any, **kwargs: Any) -> "TimsClient":
        profile = TimsProfile.from_options(connection.options, base_url=connection.base_url)
        return cls(profile, connection.credentials, options=connection.client_options, **kwargs)

    # -- transport hooks ---------------------------------------------------------------

    def authenticate(self, request_kwargs: dict[str, Any]) -> None:
        headers = dict(request_kwargs.get("headers") or {})
        mode = self.profile.auth_mode
        if mode is AuthMode.CLIENT_CREDENTIALS and self.token is not None:
            token = self.token.access_token()
            self._local.token = token
            headers["Authorization"] = f"Bearer {token}"
        elif mode is AuthMode.API_KEY_HEADER:
            headers[self.profile.api_key_header] = str(self.credentials["api_key"])
        elif mode is AuthMode.BASIC:
            request_kwargs["auth"] = (
                str(self.credentials["username"]),
                str(self.credentials.get("password") or ""),
            )
        headers.setdefault("Accept", "application/json")
        request_kwargs["headers"] = headers

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return super().request(method, path, **kwargs)
        except AuthError as error:
            # A 401 on a cached bearer token: it was revoked or expired early. The server did
            # nothing with the request, so one more try with a new token is safe, even a POST.
            used = getattr(self._local, "token", None)
            if self.token is None or error.status_code != 401 or used is None:
                raise
            self.token.invalidate(used)
            return super().request(method, path, **kwargs)

    def error_from_response(
        self, response: requests.Response, *, what: str
    ) -> ConnectorError | None:
        status = response.status_code
        if status < 400:
            return None
        body = self._error_body(response)
        if status not in ERROR_BODY_STATUSES or body is None:
            return classify_response(response, what=what)
        code = str(body.get("code") or "")
        message = redact_text(str(body.get("message") or response.reason or ""))
        field = self._our_field(str(body.get("field") or ""))
        text = f"{what} rejected: HTTP {status}"
        text += f" {code}" if code else ""
        text += f": {field}: {message}" if field else f": {message}"
        kwargs: dict[str, Any] = {
            "field": field,
            "value": body.get("value"),
            "status_code": status,
            "details": {"code": code, "error": body},
        }
        if status == 404:
            return NotFoundError(text, **kwargs)
        if status == 409:
            existing = body.get(self.profile.wire_name("order_number")) or body.get("existing")
            return ConflictError(text, existing=str(existing or ""), **kwargs)
        return DataError(text, **kwargs)

    def _error_body(self, response: requests.Response) -> dict[str, Any] | None:
        try:
            payload = response.json()
        except ValueError:
            return None
        error = payload.get(self.profile.error_key) if isinstance(payload, dict) else None
        return error if isinstance(error, dict) else None

    def _our_field(self, field: str) -> str:
        # "Lines[2].ItemNo" -> "lines[2].item_code": each segment through the alias map.
        parts = []
        for part in field.split("."):
            name, bracket, rest = part.partition("[")
            parts.append(self.profile.our_name(name) + (bracket + rest if bracket else ""))
        return ".".join(parts)

    # -- plumbing ----------------------------------------------------------------------

    def _call(
        self,
        operation: Operation,
        *,
        path_values: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        what: str = "",
    ) -> Any:
        method = self.profile.method(operation)
        path = self.profile.path(operation, **(path_values or {}))
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = {
                self.profile.wire_name(k): self._param(v)
                for k, v in params.items()
                if v is not None
            }
        if body is not None:
            kwargs["json"] = self.profile.to_wire(body)
        if idempotency_key:
            kwargs["headers"] = {self.profile.idempotency_header: idempotency_key}
        attempt = 0
        while True:
            attempt += 1
            response = self.request(method, path, what=what or f"TIMS {operation}", **kwargs)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return self.profile.to_ours(response.json())
            except ValueError:
                # A cut or garbled body (a proxy, an overloaded server): worth another try,
                # here only for reads; a write's outcome is found by the look-up instead.
                error = TransientError(
                    f"TIMS {operation}: the response is not JSON: {response.text[:200]!r}",
                    status_code=response.status_code,
                )
            if method != "GET" or attempt > self.options.safe_retries:
                raise error
            self._wait(attempt, None)

    @staticmethod
    def _param(value: Any) -> str:
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value)

    def _paginator(self) -> Paginator:
        profile = self.profile
        if profile.paging is PagingStyle.CURSOR:
            return CursorPaginator(lambda body: (body or {}).get(profile.next_cursor_key))
        return PagePaginator(
            profile.page_size,
            total_pages=lambda body: (body or {}).get(profile.total_pages_key),
        )

    def _list(
        self,
        operation: Operation,
        record_type: type[R],
        translate: Callable[[R], T],
        *,
        params: Mapping[str, Any] | None = None,
        path_values: Mapping[str, str] | None = None,
    ) -> Iterator[T]:
        profile = self.profile

        def fetch(token: Any) -> tuple[list[T], Any]:
            page_params = dict(params or {})
            if profile.paging is PagingStyle.CURSOR:
                if token:
                    page_params[profile.cursor_param] = token
            else:
                page_params[profile.page_param] = token
            page_params[profile.page_size_param] = profile.page_size
            body = self._call(operation, params=page_params, path_values=path_values)
            records = body.get(profile.items_key) if isinstance(body, dict) else body
            if not isinstance(records, list):
                raise TransientError(
                    f"TIMS {operation}: the response has no list under {profile.items_key!r}"
                )
            return [self._one(operation, record_type, translate, r) for r in records], body

        yield from PagedReader(self._paginator(), fetch)

    @staticmethod
    def _one(operation: Operation, record_type: type[R], translate: Callable[[R], T], data: Any):
        return translate(parse_record(record_type, data, what=f"TIMS {operation} record"))

    # -- customers ---------------------------------------------------------------------

    def get_customer(self, customer_code: str) -> Customer:
        op = Operation.CUSTOMER_GET
        body = self._call(op, path_values={"customer_code": customer_code})
        return self._one(op, CustomerRecord, customer_from_record, body)

    def find_customers_by_email(self, email: str) -> list[Customer]:
        return list(
            self._list(
                Operation.CUSTOMER_LIST,
                CustomerRecord,
                customer_from_record,
                params={"email": email.strip().lower()},
            )
        )

    def list_customers(self, *, modified_since: datetime | None = None) -> Iterator[Customer]:
        return self._list(
            Operation.CUSTOMER_LIST,
            CustomerRecord,
            customer_from_record,
            params={"modified_since": modified_since},
        )

    def create_customer(
        self, customer: CustomerRecord | Mapping[str, Any], *, idempotency_key: str
    ) -> Customer:
        record = _as(CustomerRecord, customer)
        op = Operation.CUSTOMER_CREATE
        body = self._call(op, body=record.wire(), idempotency_key=idempotency_key)
        return self._one(op, CustomerRecord, customer_from_record, body)

    def update_customer(self, customer_code: str, changes: Mapping[str, Any]) -> Customer:
        op = Operation.CUSTOMER_UPDATE
        body = self._call(op, path_values={"customer_code": customer_code}, body=dict(changes))
        return self._one(op, CustomerRecord, customer_from_record, body)

    def list_ship_tos(self, customer_code: str) -> list[Address]:
        return list(
            self._list(
                Operation.SHIP_TO_LIST,
                ShipTo,
                address_from_ship_to,
                path_values={"customer_code": customer_code},
            )
        )

    def create_ship_to(
        self, customer_code: str, ship_to: ShipTo | Mapping[str, Any], *, idempotency_key: str
    ) -> Address:
        record = _as(ShipTo, ship_to)
        op = Operation.SHIP_TO_CREATE
        body = self._call(
            op,
            path_values={"customer_code": customer_code},
            body=record.wire(),
            idempotency_key=idempotency_key,
        )
        return self._one(op, ShipTo, address_from_ship_to, body)

    # -- items and stock -----------------------------------------------------------------

    def get_item(self, item_code: str) -> Product:
        op = Operation.ITEM_GET
        body = self._call(op, path_values={"item_code": item_code})
        return self._one(op, ItemRecord, product_from_item, body)

    def list_items(self, *, modified_since: datetime | None = None) -> Iterator[Product]:
        return self._list(
            Operation.ITEM_LIST,
            ItemRecord,
            product_from_item,
            params={"modified_since": modified_since},
        )

    def update_item(self, item_code: str, changes: Mapping[str, Any]) -> Product:
        """PATCH only `changes` (our field names, e.g. {"description": …}) onto an item.

        ASSUMED operation (ITEM_UPDATE). A PATCH of the same values is safe to repeat.
        """
        op = Operation.ITEM_UPDATE
        body = self._call(op, path_values={"item_code": item_code}, body=_jsonable(changes))
        return self._one(op, ItemRecord, product_from_item, body)

    def create_item(
        self, item: ItemRecord | Mapping[str, Any], *, idempotency_key: str
    ) -> Created[Product]:
        """Create an item once: looked up by item_code first; a 409 duplicate is read back.

        ASSUMED operation (ITEM_CREATE).
        """
        record = _as(ItemRecord, item)
        try:
            return Created(self.get_item(record.item_code), created=False)
        except NotFoundError:
            pass
        op = Operation.ITEM_CREATE
        try:
            body = self._call(op, body=record.wire(), idempotency_key=idempotency_key)
        except ConflictError:
            return Created(self.get_item(record.item_code), created=False)
        return Created(self._one(op, ItemRecord, product_from_item, body), created=True)

    def list_inventory(
        self, *, location_id: str | None = None, modified_since: datetime | None = None
    ) -> Iterator[StockLevel]:
        return self._list(
            Operation.INVENTORY_LIST,
            StockRecord,
            stock_from_record,
            params={"location_id": location_id, "modified_since": modified_since},
        )

    # -- sales orders --------------------------------------------------------------------

    def get_sales_order(self, order_number: str) -> SalesOrder:
        op = Operation.SALES_ORDER_GET
        body = self._call(op, path_values={"order_number": order_number})
        return self._one(op, SalesOrder, _same, body)

    def find_sales_order_by_customer_po(self, customer_po: str) -> SalesOrder | None:
        found = list(
            self._list(
                Operation.SALES_ORDER_LIST, SalesOrder, _same, params={"customer_po": customer_po}
            )
        )
        # Filter again: a server that ignores an unknown filter must not link a wrong order.
        matches = [order for order in found if order.customer_po == customer_po]
        return matches[0] if matches else None

    def list_sales_orders(self, *, modified_since: datetime | None = None) -> Iterator[SalesOrder]:
        return self._list(
            Operation.SALES_ORDER_LIST,
            SalesOrder,
            _same,
            params={"modified_since": modified_since},
        )

    def create_sales_order(
        self, order: SalesOrder | Mapping[str, Any], *, idempotency_key: str
    ) -> Created[SalesOrder]:
        """Create the order once: look it up by customer_po first, link on a 409 duplicate.

        Race: two workers may both find nothing and both POST; TIMS (assumed) rejects the
        second with 409 naming the existing order_number, which we then return.
        """
        record = _as(SalesOrder, order)
        existing = self.find_sales_order_by_customer_po(record.customer_po)
        if existing is not None:
            return Created(existing, created=False)
        op = Operation.SALES_ORDER_CREATE
        try:
            body = self._call(op, body=record.wire(), idempotency_key=idempotency_key)
        except ConflictError as conflict:
            if conflict.field not in ("customer_po", ""):
                raise
            if conflict.existing:
                return Created(self.get_sales_order(conflict.existing), created=False)
            again = self.find_sales_order_by_customer_po(record.customer_po)
            if again is None:
                raise
            return Created(again, created=False)
        created = self._one(op, SalesOrder, _same, body)
        return Created(created, created=True)

    # -- shipments, invoices, payments -------------------------------------------------

    def list_shipments(self, *, modified_since: datetime | None = None) -> Iterator[Shipment]:
        return self._list(
            Operation.SHIPMENT_LIST,
            ShipmentRecord,
            shipment_from_record,
            params={"modified_since": modified_since},
        )

    def get_invoice(self, invoice_number: str) -> Invoice:
        op = Operation.INVOICE_GET
        body = self._call(op, path_values={"invoice_number": invoice_number})
        return self._one(op, InvoiceRecord, invoice_from_record, body)

    def list_invoices(self, *, modified_since: datetime | None = None) -> Iterator[Invoice]:
        return self._list(
            Operation.INVOICE_LIST,
            InvoiceRecord,
            invoice_from_record,
            params={"modified_since": modified_since},
        )

    def list_payments(
        self, *, modified_since: datetime | None = None, reference: str | None = None
    ) -> Iterator[Payment]:
        return self._list(
            Operation.PAYMENT_LIST,
            PaymentRecord,
            payment_from_record,
            params={"modified_since": modified_since, "reference": reference},
        )

    def record_payment(
        self, payment: PaymentRecord | Mapping[str, Any], *, idempotency_key: str
    ) -> Created[Payment]:
        """Record a shop prepayment once: looked up by its reference before it is posted."""
        record = _as(PaymentRecord, payment)
        if record.reference:
            for existing in self.list_payments(reference=record.reference):
                if existing.transaction_id == record.reference:
                    return Created(existing, created=False)
        op = Operation.PAYMENT_CREATE
        body = self._call(op, body=record.wire(), idempotency_key=idempotency_key)
        return Created(self._one(op, PaymentRecord, payment_from_record, body), created=True)


def _jsonable(changes: Mapping[str, Any]) -> dict[str, Any]:
    # Decimals as strings (the assumed wire format for money and quantities).
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in changes.items()}


def _same(record: T) -> T:
    return record


def _as(record_type: type[R], value: Any) -> R:
    if isinstance(value, record_type):
        return value
    return parse_record(record_type, dict(value))
