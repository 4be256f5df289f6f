"""The PrestaShop Webservice client: reads in JSON, writes in XML, one error classification.

Connection options (Connection.options, beside the generic ClientOptions knobs):

- `version`: the shop's PrestaShop version ("1.7.8.8", "8.1.2"); when absent it is read from
  the PSWS-Version header of the first response. PATCH is used from 8.0 on, read-modify-write
  PUT before (reference §3: PUT is a full replace).
- `timezone`: the shop's PS_TIMEZONE (dates on the wire carry no offset), default Europe/Paris.
- `output_format`: "JSON" (default) or "XML" for reads; XML avoids the 8.0/8.1 JSON bugs
  (associations missing, reference §6 bug 8).
- `id_shop` (an id or "all") and `id_shop_group`: multistore context sent on every call
  (as `id_shop` / `id_group_shop`, reference §2).
- `id_lang`: the language read from multi-language fields (default: the first non-empty).
- `send_email`: `sendemail=1` on state changes and tracking numbers (default true).
- `id_employee`: written on order_histories rows.
- `order_states`: {state id: canonical state} overriding the defaults of translate.py.
"""

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from connectors.canonical import (
    Address,
    Customer,
    Order,
    OrderState,
    Payment,
    Product,
    StockLevel,
    Variant,
)
from connectors.errors import (
    AuthError,
    ConnectorError,
    DataError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.http import (
    ERROR_BODY_LIMIT,
    ClientOptions,
    HttpClient,
    parse_retry_after,
)
from connectors.paging import OffsetPaginator, PagedReader, Paginator
from connectors.prestashop import translate
from connectors.prestashop.resources import (
    COMBINATIONS,
    COUNTRIES,
    CURRENCIES,
    CUSTOMERS,
    LANGUAGES,
    ORDER_CARRIERS,
    ORDER_HISTORIES,
    ORDER_PAYMENTS,
    ORDERS,
    PRODUCTS,
    STOCK_AVAILABLES,
    Resource,
    resource,
)
from connectors.prestashop.xml import build, merge_into, xml_to_wire
from connectors.redaction import redact_text, register_secret, truncate

# PATCH exists from PrestaShop 8.0 (PR #27952); 1.7 answers 405 code 23.
PATCH_SINCE_MAJOR = 8
# Error codes PrestaShop sends with a 500 that no retry can fix (reference §3): bad XML body,
# a stock row managed by advanced stock management.
PERMANENT_500_CODES = frozenset({"127", "133"})
# Codes meaning the key itself was refused rather than lacking a permission (reference §1).
KEY_REFUSED_CODES = frozenset({"16", "17", "18", "19", "20"})
# 400 validation failures: the data is wrong, not the call.
VALIDATION_CODES = frozenset({"41", "84", "85"})
PATCH_UNSUPPORTED_CODE = "23"
KEY_METHOD_CODE = "25"
# Product fields a read-modify-write PUT drops (see PrestaShopClient.product_readonly_fields).
PRODUCT_READONLY_FIELDS = ("manufacturer_name", "quantity")
# The lower bound of an incremental read that has no cursor yet.
EPOCH = "1970-01-01 00:00:00"


def api_root(base_url: str) -> str:
    """The Webservice root: the shop URL with /api, subfolder installs included."""
    base = base_url.rstrip("/")
    return base if base.endswith("/api") else f"{base}/api"


def filter_equals(*values: Any) -> str:
    """`[v]`, or `[a|b|c]` for any of several values."""
    return "[" + "|".join(str(v) for v in values) + "]"


def filter_between(low: Any, high: Any) -> str:
    """`[a,b]`: both ends inclusive (reference §2, whatever D1 says)."""
    return f"[{low},{high}]"


def parse_version(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    parts = []
    for piece in str(text).strip().split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) or None


class DateKeysetPaginator(Paginator):
    """Pages an incremental read by (date_upd, id) instead of by a bare offset.

    The token is (lower date, rows already seen at that date). A bare offset skips a row
    whenever one before it is updated mid-run (it leaves the window and everything shifts
    left by one); here only rows sharing the last date are counted by offset.
    """

    def __init__(self, field: str, since: str) -> None:
        super().__init__()
        self.field = field
        self.since = since

    def first(self) -> tuple[str, int]:
        return (self.since, 0)

    def next_token(self, items: Any, response: Any) -> tuple[str, int] | None:
        if not items:
            return None
        lower, skip = self.token
        last = items[-1].get(self.field) if isinstance(items[-1], dict) else None
        if not last:
            raise DataError(
                f"incremental read: the records carry no '{self.field}'",
                field=self.field,
                value=last,
            )
        at_last = sum(1 for item in items if item.get(self.field) == last)
        return (last, skip + at_last if last == lower else at_last)


class PrestaShopClient(HttpClient):
    system = "prestashop"

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        options: ClientOptions | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(api_root(base_url), options=options, session=session, sleep=sleep)
        if not key:
            raise AuthError("no PrestaShop webservice key is configured", field="key")
        self.key = key
        register_secret(key)
        extra = self.options.extra
        self.configured_version = parse_version(extra.get("version"))
        self.detected_version: tuple[int, ...] | None = None
        try:
            self.timezone = ZoneInfo(extra.get("timezone") or translate.DEFAULT_TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError):
            raise PermanentError(
                f"connection option timezone {extra.get('timezone')!r} is not a known timezone",
                field="timezone",
                value=extra.get("timezone"),
            ) from None
        self.output_format = str(extra.get("output_format") or "JSON").upper()
        self.id_shop = extra.get("id_shop")
        self.id_shop_group = extra.get("id_shop_group")
        self.id_lang = extra.get("id_lang")
        self.send_email = bool(extra.get("send_email", True))
        self.id_employee = extra.get("id_employee")
        self.order_states = dict(translate.DEFAULT_ORDER_STATES)
        for state_id, state in (extra.get("order_states") or {}).items():
            self.order_states[int(state_id)] = OrderState(state)
        self._patch_refused = False
        # Fields a product PUT must leave out: PrestaShop answers 400 code 93 "parameter …
        # not writable" for them [unverified here: Product::$webserviceParameters setter
        # false in the 1.7/8 core, not in the reference pack]; option product_readonly_fields.
        readonly = extra.get("product_readonly_fields", PRODUCT_READONLY_FIELDS)
        if isinstance(readonly, str):
            readonly = [f.strip() for f in readonly.split(",") if f.strip()]
        self.product_readonly_fields: tuple[str, ...] = tuple(readonly)
        self._language_ids: list[int] | None = None
        self._iso: dict[tuple[str, int], str] = {}
        self._ids_by_iso: dict[tuple[str, str], int] = {}

    @classmethod
    def from_connection(cls, connection: Any) -> "PrestaShopClient":
        credentials = connection.credentials or {}
        key = credentials.get("key") or credentials.get("ws_key") or credentials.get("api_key")
        return cls(connection.base_url, key or "", options=connection.client_options)

    # ------------------------------------------------------------ transport

    def authenticate(self, request_kwargs: dict[str, Any]) -> None:
        # HTTP Basic, key as user, empty password (reference §1); never ?ws_key= (logs).
        request_kwargs["auth"] = (self.key, "")

    @property
    def version(self) -> tuple[int, ...] | None:
        return self.configured_version or self.detected_version

    def _context_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.id_shop not in (None, ""):
            params["id_shop"] = self.id_shop
        if self.id_shop_group not in (None, ""):
            params["id_group_shop"] = self.id_shop_group
        return params

    def call(
        self,
        method: str,
        res: Resource,
        record_id: Any = None,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        output: str | None = None,
        idempotent: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One Webservice call; returns the response, raises a classified error."""
        path = res.path if record_id in (None, "") else f"{res.path}/{record_id}"
        query = {**self._context_params(), **(params or {})}
        headers = dict(headers or {})
        output = (output or self.output_format).upper()
        if output == "JSON":
            query["output_format"] = "JSON"
            headers["Io-Format"] = "JSON"
        if body is not None:
            headers["Content-Type"] = "text/xml; charset=utf-8"
        response = self.request(
            method,
            path,
            params=query,
            headers=headers,
            data=body,
            idempotent=idempotent,
            what=f"{method} {path}",
        )
        self.note_version(response)
        return response

    def note_version(self, response: requests.Response) -> None:
        version = parse_version(response.headers.get("PSWS-Version"))
        if version:
            self.detected_version = version

    def decode(self, response: requests.Response, *, what: str) -> Any:
        """The body as a wire dict, XML or JSON by content; `[]` and empty mean nothing."""
        text = response.content.strip()
        if not text:
            return {}
        if text.startswith(b"<"):
            return xml_to_wire(text, what=what)
        try:
            return response.json()
        except ValueError:
            raise DataError(
                f"{what}: PrestaShop answered a body that is neither XML nor JSON: "
                f"{redact_text(truncate(response.text, 200))}",
                field="body",
                value=response.text[:80],
            ) from None

    def error_from_response(
        self, response: requests.Response, *, what: str
    ) -> ConnectorError | None:
        status = response.status_code
        if status < 400:
            return None
        method, _, path = what.partition(" ")
        resource_name = path.split("/")[0] or "the API root"
        errors = _error_list(response)
        codes = {code for code, _ in errors}
        detail = "; ".join(f"[{code}] {message}" if code else message for code, message in errors)
        detail = redact_text(truncate(detail, ERROR_BODY_LIMIT))
        base = f"PrestaShop {what} failed: HTTP {status}" + (f": {detail}" if detail else "")
        kwargs: dict[str, Any] = {"status_code": status, "details": {"codes": sorted(codes)}}
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            return RateLimitedError(base, retry_after=retry_after, **kwargs)
        if status in (401, 403) or (status == 405 and KEY_METHOD_CODE in codes):
            if codes & KEY_REFUSED_CODES or (status == 401 and not codes):
                hint = (
                    "the webservice key was refused; check it under Advanced Parameters > "
                    "Webservice and that the host passes the Authorization header "
                    "(CGIPassAuth On)"
                )
            else:
                hint = "grant it under Advanced Parameters > Webservice"
            return AuthError(
                f"the key may not {method} {resource_name} ({base}); Resolution: {hint}",
                field=resource_name,
                **kwargs,
            )
        if status == 404:
            return NotFoundError(
                f"{resource_name}: {path} not found" + (f" ({detail})" if detail else ""),
                field=resource_name,
                value=path,
                **kwargs,
            )
        if status >= 500:
            if codes & PERMANENT_500_CODES:
                return PermanentError(base, field=resource_name, **kwargs)
            return TransientError(base, retry_after=retry_after, **kwargs)
        if status == 400 and codes & VALIDATION_CODES:
            return DataError(base, field=resource_name, value=detail, **kwargs)
        return PermanentError(base, field=resource_name, **kwargs)

    # ------------------------------------------------------------ reads

    def _records(self, res: Resource, data: Any, *, what: str) -> list[dict[str, Any]]:
        # An empty JSON list comes back as [] instead of {"orders": []} (reference §6 bug 1).
        if data in (None, "", [], {}):
            return []
        if not isinstance(data, dict):
            raise DataError(f"{what}: expected an object, got {data!r:.80}", field=res.name)
        if res.name in data:
            rows = data[res.name]
        elif res.element in data:
            rows = [data[res.element]]
        else:
            raise DataError(
                f"{what}: the body has no '{res.name}' (keys: {', '.join(data) or 'none'})",
                field=res.name,
                value=list(data),
            )
        if rows in (None, "", {}):
            return []
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise DataError(f"{what}: '{res.name}' is not a list", field=res.name, value=rows)
        return rows

    def get(
        self, resource_name: str, record_id: Any, *, display: str | None = None
    ) -> dict[str, Any]:
        """One record. With `display` PrestaShop answers a list even for one id (§2)."""
        res = resource(resource_name)
        params = {"display": display} if display else {}
        what = f"GET {res.name}/{record_id}"
        response = self.call("GET", res, record_id, params=params)
        data = self.decode(response, what=what)
        if isinstance(data, dict) and isinstance(data.get(res.element), dict):
            return data[res.element]
        rows = self._records(res, data, what=what)
        if not rows:
            raise NotFoundError(f"{res.name}: {record_id} not found", field=res.name)
        return rows[0]

    def get_if_changed(
        self, resource_name: str, record_id: Any, *, sha1: str | None = None
    ) -> tuple[dict[str, Any] | None, str]:
        """A conditional GET: (record, its Content-Sha1), or (None, sha1) when unchanged.

        Sends `Local-Content-Sha1` with the Content-Sha1 of the previous answer; the shop
        answers 304 Not Modified when the body would be the same (reference §1: documented
        as fixed in 8.0; an older shop just answers 200 every time). The hash covers the
        body as rendered, so keep the same output format between calls.
        """
        res = resource(resource_name)
        headers = {"Local-Content-Sha1": sha1} if sha1 else {}
        response = self.call("GET", res, record_id, headers=headers)
        if response.status_code == 304:
            return None, sha1 or ""
        data = self.decode(response, what=f"GET {res.name}/{record_id}")
        if isinstance(data, dict) and isinstance(data.get(res.element), dict):
            record = data[res.element]
        else:
            rows = self._records(res, data, what=f"GET {res.name}/{record_id}")
            if not rows:
                raise NotFoundError(f"{res.name}: {record_id} not found", field=res.name)
            record = rows[0]
        return record, response.headers.get("Content-Sha1", "")

    def list_records(
        self,
        resource_name: str,
        *,
        filters: dict[str, Any] | None = None,
        display: str | None = "full",
        sort: str | None = None,
        limit: str | int | None = None,
        date: bool = False,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One list call. Without `display` PrestaShop lists ids only."""
        res = resource(resource_name)
        query: dict[str, Any] = dict(params or {})
        if display:
            query["display"] = display
        for name, value in (filters or {}).items():
            query[f"filter[{name}]"] = value
        if sort:
            query["sort"] = sort
        if limit is not None:
            query["limit"] = limit
        if date:
            query["date"] = 1
        response = self.call("GET", res, params=query)
        return self._records(res, self.decode(response, what=f"GET {res.name}"), what=res.name)

    def iter_records(
        self,
        resource_name: str,
        *,
        filters: dict[str, Any] | None = None,
        display: str = "full",
        sort: str = "[id_ASC]",
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, page by page (limit=offset,count until an empty page)."""
        size = page_size or self.options.page_size

        def fetch(offset: int) -> tuple[list[dict[str, Any]], None]:
            rows = self.list_records(
                resource_name, filters=filters, display=display, sort=sort, limit=f"{offset},{size}"
            )
            return rows, None

        return iter(PagedReader(OffsetPaginator(size), fetch))

    def iter_changed(
        self,
        resource_name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: dict[str, Any] | None = None,
        display: str = "full",
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records changed in [since, until] (both inclusive), oldest first, streamed.

        `until` defaults to now, so a run has a fixed end (a signpost, as singer-sdk's): rows
        changed while it runs are left to the next run, whose `since` should overlap this
        `until` by a few minutes (shop clocks and DST, reference §6); dedup by id.
        """
        res = resource(resource_name)
        field = res.date_field
        if field is None:
            raise ValueError(f"{res.name} has no date field to read incrementally")
        size = page_size or self.options.page_size
        high = translate.format_date(until or datetime.now(self.timezone), self.timezone)
        low = translate.format_date(since, self.timezone) if since else EPOCH

        def fetch(token: tuple[str, int]) -> tuple[list[dict[str, Any]], None]:
            lower, skip = token
            rows = self.list_records(
                res.name,
                filters={**(filters or {}), field: filter_between(lower, high)},
                display=display,
                sort=f"[{field}_ASC,id_ASC]",
                limit=f"{skip},{size}",
                date=True,
            )
            return rows, None

        return iter(PagedReader(DateKeysetPaginator(field, low), fetch))

    # ------------------------------------------------------------ writes

    def create(
        self, resource_name: str, fields: dict[str, Any], *, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST a new record. Never retried: a lost answer may hide a created record."""
        res = resource(resource_name)
        if "POST" not in res.methods:
            raise PermanentError(f"PrestaShop does not create {res.name} through the API")
        if "id" in fields:
            raise DataError(f"a new {res.element} must not carry an id", field="id")
        response = self.call(
            "POST", res, params=params, body=build(res.element, fields), idempotent=False
        )
        return self._written(res, response, what=f"POST {res.name}")

    def update(
        self,
        resource_name: str,
        record_id: Any,
        changes: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        drop: tuple[str, ...] | frozenset[str] = (),
    ) -> dict[str, Any]:
        """Change some fields of a record and nothing else.

        8.0+: PATCH with the id and the changed fields. Before (or when the shop refuses
        PATCH): GET the whole XML document, change only those fields, PUT it back, since a
        PUT resets every field it leaves out (reference §3). A change made by someone else
        between the GET and the PUT is overwritten; PATCH has no such window. `drop` names
        fields left out of the PUT body (read-only fields the shop refuses on a write).
        """
        res = resource(resource_name)
        what = f"{res.name}/{record_id}"
        if self._patch_allowed():
            body = build(res.element, {"id": record_id, **changes})
            try:
                response = self.call(
                    "PATCH", res, record_id, params=params, body=body, idempotent=True
                )
                return self._written(res, response, what=f"PATCH {what}")
            except PermanentError as error:
                if error.status_code != 405 or PATCH_UNSUPPORTED_CODE not in error.details.get(
                    "codes", []
                ):
                    raise
                self._patch_refused = True  # a 1.7 shop behind a wrong `version` option
        document = self.call("GET", res, record_id, output="XML").content
        if not self._patch_refused and self._patch_allowed():
            # The GET just told us the version (PSWS-Version): PATCH after all.
            return self.update(resource_name, record_id, changes, params=params, drop=drop)
        body = merge_into(document, res.element, changes, drop=drop)
        response = self.call("PUT", res, record_id, params=params, body=body, idempotent=True)
        return self._written(res, response, what=f"PUT {what}")

    def _patch_allowed(self) -> bool:
        version = self.version
        return bool(version) and version[0] >= PATCH_SINCE_MAJOR and not self._patch_refused

    def _written(self, res: Resource, response: requests.Response, *, what: str) -> dict:
        data = self.decode(response, what=what)
        if isinstance(data, dict) and isinstance(data.get(res.element), dict):
            return data[res.element]
        rows = self._records(res, data, what=what)
        return rows[0] if rows else {}

    # ------------------------------------------------------------ flows' writes

    def _sendemail(self, send_email: bool | None) -> dict[str, Any]:
        send = self.send_email if send_email is None else send_email
        return {"sendemail": 1} if send else {}

    def change_order_state(
        self, order_id: int | str, state_id: int | str, *, send_email: bool | None = None
    ) -> dict[str, Any] | None:
        """POST an order_histories row; None when the order already is in that state.

        A history row fires the shop's state logic (stock, invoice, mails), so it is never
        posted twice for the same state: the current state is looked up first.
        """
        order = self.get(ORDERS.name, order_id, display="[id,current_state]")
        if str(order.get("current_state")) == str(state_id):
            return None
        fields = translate.order_history_to_wire(
            order_id=order_id, state_id=state_id, employee_id=self.id_employee
        )
        return self.create(ORDER_HISTORIES.name, fields, params=self._sendemail(send_email))

    def set_tracking_number(
        self, order_id: int | str, tracking_number: str, *, send_email: bool | None = None
    ) -> dict[str, Any]:
        """Write the tracking number on the order's (latest) order_carriers row."""
        rows = self.list_records(ORDER_CARRIERS.name, filters={"id_order": filter_equals(order_id)})
        if not rows:
            raise NotFoundError(
                f"order {order_id} has no order_carriers row to hold tracking number "
                f"{tracking_number!r}",
                field="id_order",
                value=order_id,
            )
        row = max(rows, key=lambda r: int(r.get("id") or 0))
        if str(row.get("tracking_number") or "") == tracking_number:
            return row
        return self.update(
            ORDER_CARRIERS.name,
            row["id"],
            {"tracking_number": tracking_number},
            params=self._sendemail(send_email),
        )

    def record_payment(self, payment: Payment, *, skip_if_exists: bool = True) -> dict[str, Any]:
        """POST an order_payments row, unless one with the same transaction id exists.

        The look-up makes a retry after a lost answer safe (the POST itself never is).
        Payments tie to orders by reference, which orders split from one cart share.
        """
        if skip_if_exists and payment.transaction_id:
            for row in self.payments_of(payment.order_reference):
                if str(row.get("transaction_id") or "") == payment.transaction_id:
                    return row
        fields = translate.payment_to_wire(
            payment, currency_id=self.currency_id(payment.currency), ctx=self.context()
        )
        return self.create(ORDER_PAYMENTS.name, fields)

    def payments_of(self, order_reference: str) -> list[dict[str, Any]]:
        return self.list_records(
            ORDER_PAYMENTS.name, filters={"order_reference": filter_equals(order_reference)}
        )

    def find_stock(self, product_id: int | str, attribute_id: int | str = 0) -> dict[str, Any]:
        """The stock_availables row of a product or combination (in the connection's shop)."""
        rows = self.list_records(
            STOCK_AVAILABLES.name,
            filters={
                "id_product": filter_equals(product_id),
                "id_product_attribute": filter_equals(attribute_id),
            },
        )
        if not rows:
            raise NotFoundError(
                f"no stock_availables row for product {product_id} combination {attribute_id}; "
                "PrestaShop creates them, the API cannot",
                field="id_product",
                value=product_id,
            )
        if len(rows) > 1:
            raise DataError(
                f"{len(rows)} stock_availables rows for product {product_id} combination "
                f"{attribute_id}; set the connection option id_shop",
                field="id_shop",
            )
        return rows[0]

    def set_stock_quantity(
        self, product_id: int | str, attribute_id: int | str, quantity: int
    ) -> dict[str, Any]:
        """Set the sellable quantity; nothing is written when it already has that value."""
        row = self.find_stock(product_id, attribute_id)
        reader = translate.Reader(row, resource="stock_availables")
        if reader.flag("depends_on_stock"):
            raise PermanentError(
                f"stock of product {product_id} combination {attribute_id} follows advanced "
                "stock management (depends_on_stock=1); PrestaShop refuses to set it",
                field="depends_on_stock",
                value=1,
            )
        if str(attribute_id) in ("0", "") and self._has_combinations(product_id):
            # The product row is recomputed as the sum of its combinations (reference §4).
            raise PermanentError(
                f"product {product_id} has combinations: write their stock, not the "
                "product-level row",
                field="id_product_attribute",
                value=0,
            )
        if reader.integer("quantity") == int(quantity):
            return row
        return self.update(STOCK_AVAILABLES.name, row["id"], {"quantity": int(quantity)})

    def _has_combinations(self, product_id: int | str) -> bool:
        rows = self.list_records(
            STOCK_AVAILABLES.name,
            filters={"id_product": filter_equals(product_id)},
            display="[id,id_product_attribute]",
        )
        return any(str(r.get("id_product_attribute")) not in ("0", "") for r in rows)

    def save_customer(self, customer: Customer) -> dict[str, Any]:
        fields = translate.customer_to_wire(customer)
        if customer.id:
            return self.update(CUSTOMERS.name, customer.id, fields)
        # passwd is required on create; the customer sets their own through "forgot password".
        return self.create(CUSTOMERS.name, {**fields, "passwd": secrets.token_urlsafe(24)})

    def save_address(self, address: Address, *, customer_id: int | str) -> dict[str, Any]:
        fields = translate.address_to_wire(
            address, customer_id=customer_id, country_id=self.country_id(address.country)
        )
        if address.id:
            return self.update("addresses", address.id, fields)
        return self.create("addresses", fields)

    # ------------------------------------------------------------ item master (ERP-owned)

    def language_ids(self) -> list[int]:
        """The shop's active language ids (cached): a new product is named in each."""
        if self._language_ids is None:
            rows = self.list_records(LANGUAGES.name, filters={"active": "[1]"}, display="[id]")
            ids = sorted(int(r["id"]) for r in rows if str(r.get("id", "")).isdigit())
            self._language_ids = ids or [int(self.id_lang or 1)]
        return self._language_ids

    def update_language_ids(self) -> list[int]:
        """The languages an update writes a single canonical name into: the connection's
        `id_lang`, else the first active language (translations made in the shop stay)."""
        return [int(self.id_lang)] if self.id_lang else self.language_ids()[:1]

    def _one_by_reference(
        self, res: Resource, reference: str, filters: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if not reference:
            raise DataError(
                f"a {res.element} is found by its reference; it is empty", field="reference"
            )
        rows = self.list_records(
            res.name, filters={"reference": filter_equals(reference), **(filters or {})}
        )
        if len(rows) > 1:
            ids = ", ".join(str(r.get("id")) for r in rows)
            raise DataError(
                f"several {res.name} have reference {reference!r} ({ids}); make references "
                "unique in the shop's catalogue",
                field="reference",
                value=reference,
            )
        return rows[0] if rows else None

    def find_product(self, reference: str) -> dict[str, Any] | None:
        """The product whose reference is `reference` (`filter[reference]`), or None."""
        return self._one_by_reference(PRODUCTS, reference)

    def find_combination(
        self, reference: str, *, product_id: int | str | None = None
    ) -> dict[str, Any] | None:
        """The combination whose reference is `reference` (of `product_id`, if given)."""
        filters = {"id_product": filter_equals(product_id)} if product_id else None
        return self._one_by_reference(COMBINATIONS, reference, filters)

    def save_product(
        self,
        product: Product,
        *,
        product_id: int | str | None = None,
        names: dict[int, str] | None = None,
        fields: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """Create or update a product the ERP owns; its reference (sku) is the key.

        `fields` limits an update to the fields the ERP owns (default: reference, name,
        ean13, price, weight, active; see translate.PRODUCT_FIELDS).

        Create: POST with the name in every active language (or `names`) and a link_rewrite.
        Update: only the fields that differ are written (PATCH from 8.0, read-modify-write
        PUT before), so nothing the shop manages is touched; nothing at all when none
        differs. A lost answer to the POST is safe to retry: the look-up finds the product.
        """
        current = (
            self.get(PRODUCTS.name, product_id) if product_id else self.find_product(product.sku)
        )
        if current is None:
            fields = translate.product_to_wire(
                product, language_ids=self.language_ids(), names=names, create=True
            )
            return self.create(PRODUCTS.name, fields)
        wanted = translate.product_to_wire(
            product, language_ids=self.update_language_ids(), names=names
        )
        if fields is not None:
            wanted = {k: v for k, v in wanted.items() if k in fields}
        changes = translate.changed_fields(
            current, wanted, resource="products", language_ids=self.language_ids()
        )
        if not changes:
            return current
        return self.update(PRODUCTS.name, current["id"], changes, drop=self.product_readonly_fields)

    def save_combination(
        self,
        variant: Variant,
        *,
        product_id: int | str,
        combination_id: int | str | None = None,
        weight_impact: Decimal | None = None,
    ) -> dict[str, Any]:
        """Create or update one combination of `product_id`; its reference is the key.

        PrestaShop creates the combination's stock_availables row itself (reference §3).
        """
        if combination_id:
            current: dict[str, Any] | None = self.get(COMBINATIONS.name, combination_id)
        else:
            if not variant.sku:
                raise DataError(
                    f"variant {variant.id}: a combination is found by its reference; it is empty",
                    field="reference",
                )
            current = self.find_combination(variant.sku)
        if current is None:
            fields = translate.variant_to_wire(
                variant, product_id=product_id, weight_impact=weight_impact, create=True
            )
            return self.create(COMBINATIONS.name, fields)
        owner = translate.Reader(current, resource="combinations").integer("id_product")
        if str(owner) != str(product_id):
            raise DataError(
                f"combination {current.get('id')} with reference {variant.sku!r} belongs to "
                f"product {owner}, not {product_id}; references must be unique in the shop",
                field="reference",
                value=variant.sku,
            )
        wanted = translate.variant_to_wire(
            variant, product_id=product_id, weight_impact=weight_impact
        )
        wanted.pop("id_product")
        changes = translate.changed_fields(current, wanted, resource="combinations")
        if not changes:
            return current
        return self.update(COMBINATIONS.name, current["id"], changes)

    def save_item(
        self,
        product: Product,
        *,
        names: dict[int, str] | None = None,
        weight_impacts: dict[str, Decimal] | None = None,
    ) -> dict[str, Any]:
        """A product and each of its variants: {"product": record, "combinations": [...]}.

        `weight_impacts` maps a variant's sku to its weight impact (the canonical Variant
        carries none).
        """
        record = self.save_product(product, names=names)
        product_id = record["id"]
        combinations = [
            self.save_combination(
                variant,
                product_id=product_id,
                weight_impact=(weight_impacts or {}).get(variant.sku),
            )
            for variant in product.variants
        ]
        return {"product": record, "combinations": combinations}

    # ------------------------------------------------------------ ISO codes (cached)

    def _iso_code(self, res: Resource, record_id: int) -> str:
        key = (res.name, int(record_id))
        if key not in self._iso:
            record = self.get(res.name, record_id, display="[id,iso_code]")
            code = str(record.get("iso_code") or "").upper()
            if not code:
                raise DataError(
                    f"{res.name} {record_id} has no iso_code", field="iso_code", value=record_id
                )
            self._iso[key] = code
            self._ids_by_iso[(res.name, code)] = int(record_id)
        return self._iso[key]

    def _id_of(self, res: Resource, iso_code: str) -> int:
        key = (res.name, iso_code.upper())
        if key not in self._ids_by_iso:
            rows = self.list_records(
                res.name, filters={"iso_code": filter_equals(iso_code)}, display="[id,iso_code]"
            )
            if not rows:
                raise DataError(
                    f"the shop has no {res.element} with ISO code {iso_code!r}; add it in "
                    "the shop's Localization settings",
                    field="iso_code",
                    value=iso_code,
                )
            self._ids_by_iso[key] = int(rows[0]["id"])
            self._iso[(res.name, int(rows[0]["id"]))] = iso_code.upper()
        return self._ids_by_iso[key]

    def currency_iso(self, currency_id: int) -> str:
        return self._iso_code(CURRENCIES, currency_id)

    def country_iso(self, country_id: int) -> str:
        return self._iso_code(COUNTRIES, country_id)

    def currency_id(self, iso_code: str) -> int:
        return self._id_of(CURRENCIES, iso_code)

    def country_id(self, iso_code: str) -> int:
        return self._id_of(COUNTRIES, iso_code)

    # ------------------------------------------------------------ canonical documents

    def context(self) -> translate.ShopContext:
        return translate.ShopContext(
            timezone=self.timezone,
            id_lang=int(self.id_lang) if self.id_lang else None,
            currency_iso=self.currency_iso,
            country_iso=self.country_iso,
            order_states=self.order_states,
        )

    def order_document(self, record: dict[str, Any] | int | str) -> Order:
        """A canonical Order: the order (a wire record or an id), its customer and addresses."""
        if not isinstance(record, dict):
            record = self.get(ORDERS.name, record)
        ctx = self.context()
        reader = translate.Reader(record, resource="orders")
        delivery_id = reader.integer("id_address_delivery", required=True)
        invoice_id = reader.integer("id_address_invoice") or delivery_id
        shipping = translate.address_from_wire(self.get("addresses", delivery_id), ctx)
        billing = (
            shipping
            if invoice_id == delivery_id
            else translate.address_from_wire(self.get("addresses", invoice_id), ctx)
        )
        customer = translate.customer_from_wire(
            self.get(CUSTOMERS.name, reader.integer("id_customer", required=True)), ctx
        )
        return translate.order_from_wire(
            record, ctx, customer=customer, shipping_address=shipping, billing_address=billing
        )

    def product_document(self, product_id: int | str) -> Product:
        record = self.get(PRODUCTS.name, product_id)
        combinations = self.list_records(
            COMBINATIONS.name, filters={"id_product": filter_equals(product_id)}
        )
        return translate.product_from_wire(record, self.context(), combinations=combinations)

    def stock_level(self, product_id: int | str, attribute_id: int | str = 0) -> StockLevel:
        row = self.find_stock(product_id, attribute_id)
        if str(attribute_id) not in ("0", ""):
            owner = self.get(COMBINATIONS.name, attribute_id, display="[id,reference]")
        else:
            owner = self.get(PRODUCTS.name, product_id, display="[id,reference]")
        sku = str(owner.get("reference") or "")
        if not sku:
            raise DataError(
                f"product {product_id} combination {attribute_id} has no reference to use as "
                "SKU; set one in the shop's catalogue",
                field="reference",
                value=sku,
            )
        return translate.stock_from_wire(row, sku=sku, as_of=datetime.now(self.timezone))


def _error_list(response: requests.Response) -> list[tuple[str, str]]:
    """(code, message) pairs of a PrestaShop error body, XML or JSON; [] when there is none."""
    text = response.content.strip()
    if not text:
        return []
    try:
        if text.startswith(b"<"):
            data = xml_to_wire(text)
        elif text.startswith(b"{"):
            data = response.json()
        else:
            # No key at all: plain "401 Unauthorized" text (reference §1).
            return [("", response.text.strip()[:200])]
    except (DataError, ValueError):
        return [("", response.text.strip()[:200])]
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        (str(e.get("code", "")).strip(), str(e.get("message", "")).strip())
        for e in errors
        if isinstance(e, dict)
    ]
