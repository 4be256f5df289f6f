"""The simulator's request handling, apart from any transport (HTTP server or `responses`).

ASSUMED INTERFACE: implements our default TIMS profile (or any profile it is given: path
templates, field aliases, paging and auth mode are read from the same TimsProfile the client
uses), not TIMS itself.

Knobs: `latency` (seconds per request), `max_requests_per_second` (beyond it: 429 with
Retry-After), and `inject(kind, ...)` for one-off faults: "status" (a 5xx), "rate_limit"
(429 + Retry-After), "delay" (answer late: the client times out), "drop" (close the
connection without an answer) and "malformed" (a 200 with a cut JSON body).
"""

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from connectors.tims.profile import AuthMode, Operation, PagingStyle, TimsProfile
from connectors.tims.simulator.state import SimClock, SimState, ValidationFailed

FAULT_KINDS = ("status", "rate_limit", "delay", "drop", "malformed")
# Requests kept for inspection (tests); older ones are dropped so a long CLI run stays small.
LOG_LIMIT = 10_000


@dataclass(frozen=True)
class SimCredentials:
    """What the simulator accepts; hand the same to the client. Test values, not secrets."""

    client_id: str = "shopsync"
    client_secret: str = "tims-sim-client-secret"  # noqa: S105
    api_key: str = "tims-sim-api-key-0001"
    username: str = "shopsync"
    password: str = "tims-sim-password"  # noqa: S105

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # transport-level faults the transport must act out: "drop" or "delay"
    fault: str = ""
    delay: float = 0.0


@dataclass
class Fault:
    kind: str
    status: int = 503
    retry_after: float = 1.0
    delay: float = 0.0
    path: str = ""  # only requests whose path contains this
    method: str = ""  # only requests with this method


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


Handler = Callable[[SimRequest, dict[str, str], Any], tuple[int, Any]]


class SimulatorApp:
    def __init__(
        self,
        *,
        seed: int = 1,
        profile: TimsProfile | None = None,
        credentials: SimCredentials | None = None,
        step_seconds: float = 60.0,
        latency: float = 0.0,
        max_requests_per_second: float = 0.0,
        clock: SimClock | None = None,
        path_prefix: str = "",
    ) -> None:
        # Where the API lives under the server root, e.g. "/api/v1" (the client's base_url path).
        self.path_prefix = "/" + path_prefix.strip("/") if path_prefix.strip("/") else ""
        self.profile = profile or TimsProfile(base_url="http://simulator")
        self.credentials = credentials or SimCredentials()
        self.state = SimState(seed=seed, step_seconds=step_seconds, clock=clock or SimClock())
        self.latency = latency
        self.max_requests_per_second = max_requests_per_second
        self.faults: deque[Fault] = deque()
        self.log: deque[LoggedRequest] = deque(maxlen=LOG_LIMIT)
        self.tokens: dict[str, datetime] = {}
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        self._routes = self._compile_routes()

    # -- knobs -------------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        *,
        count: int = 1,
        status: int = 503,
        retry_after: float = 1.0,
        delay: float = 0.0,
        path: str = "",
        method: str = "",
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {kind!r} is not one of {', '.join(FAULT_KINDS)}")
        for _ in range(count):
            self.faults.append(Fault(kind, status, retry_after, delay, path, method.upper()))

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock on; orders progress at once."""
        with self.state.lock:
            self.state.clock.advance(seconds)
            self.state.progress()

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def requests_to(self, operation: Operation) -> list[LoggedRequest]:
        method = self.profile.method(operation)
        pattern = self._routes_by_op[operation]
        return [r for r in self.log if r.method == method and pattern.fullmatch(r.path)]

    # -- routing -----------------------------------------------------------------------

    def _compile_routes(self) -> list[tuple[str, re.Pattern[str], Handler, Operation]]:
        handlers: dict[Operation, Handler] = {
            Operation.CUSTOMER_LIST: self._customer_list,
            Operation.CUSTOMER_GET: self._customer_get,
            Operation.CUSTOMER_CREATE: self._customer_create,
            Operation.CUSTOMER_UPDATE: self._customer_update,
            Operation.SHIP_TO_LIST: self._ship_to_list,
            Operation.SHIP_TO_CREATE: self._ship_to_create,
            Operation.ITEM_LIST: self._item_list,
            Operation.ITEM_GET: self._item_get,
            Operation.ITEM_CREATE: self._item_create,
            Operation.ITEM_UPDATE: self._item_update,
            Operation.INVENTORY_LIST: self._inventory_list,
            Operation.SALES_ORDER_CREATE: self._order_create,
            Operation.SALES_ORDER_GET: self._order_get,
            Operation.SALES_ORDER_LIST: self._order_list,
            Operation.SHIPMENT_LIST: self._shipment_list,
            Operation.INVOICE_LIST: self._invoice_list,
            Operation.INVOICE_GET: self._invoice_get,
            Operation.PAYMENT_LIST: self._payment_list,
            Operation.PAYMENT_CREATE: self._payment_create,
        }
        routes = []
        self._routes_by_op: dict[Operation, re.Pattern[str]] = {}
        for operation, handler in handlers.items():
            template = self.profile.path_template(operation)
            pattern = re.escape(self.path_prefix + "/" + template.lstrip("/"))
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
            compiled = re.compile(pattern)
            self._routes_by_op[operation] = compiled
            routes.append((self.profile.method(operation), compiled, handler, operation))
        return routes

    # -- the one entry point -------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        body = _json_or_raw(request.body)
        self.log.append(
            LoggedRequest(request.method, request.path, request.query, request.headers, body)
        )
        if self.latency:
            time.sleep(self.latency)
        if self._is_token_request(request):
            return self._token(request)
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault.kind != "delay":
            return self._act_out(fault)
        response = self._serve(request)
        if fault is not None:
            # The work is done; only the answer comes late (the transport waits `delay`).
            response.fault, response.delay = "delay", fault.delay
        return response

    def _serve(self, request: SimRequest) -> SimResponse:
        if self._over_rate():
            return _error(429, "rate_limited", "too many requests", headers={"Retry-After": "1"})
        if not self._authorised(request):
            return _error(401, "unauthorized", "missing or invalid credentials")
        for method, pattern, handler, operation in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None or method != request.method:
                continue
            values = {k: unquote(v) for k, v in match.groupdict().items()}
            return self._dispatch(request, handler, operation, values)
        return _error(404, "not_found", f"no route for {request.method} {request.path}")

    def _dispatch(
        self, request: SimRequest, handler: Handler, operation: Operation, values: dict[str, str]
    ) -> SimResponse:
        data: Any = None
        if request.body:
            try:
                data = self.profile.to_ours(json.loads(request.body))
            except ValueError:
                return _error(400, "invalid_json", "the body is not JSON")
        key = request.headers.get(self.profile.idempotency_header.lower(), "")
        digest = hashlib.sha256(request.body).hexdigest()
        with self.state.lock:
            self.state.progress()
            if key and request.method == "POST":
                stored = self.state.idempotency.get(key)
                if stored is not None:
                    if stored[0] != digest:
                        return _error(
                            422,
                            "idempotency_key_reused",
                            "this Idempotency-Key was used with another body",
                            field=self.profile.idempotency_header,
                        )
                    return _json(stored[1], stored[2], headers={"Idempotent-Replayed": "true"})
            try:
                status, payload = handler(request, values, data)
            except ValidationFailed as failed:
                wire_field = self._wire_field(failed.field)
                extra = self.profile.to_wire(failed.extra)
                return _error(failed.status, failed.code, failed.message, wire_field, extra)
            wire = self.profile.to_wire(payload)
            if key and request.method == "POST" and status < 300:
                self.state.idempotency[key] = (digest, status, wire)
            return _json(status, wire)

    def _wire_field(self, field_path: str) -> str:
        parts = []
        for part in field_path.split("."):
            name, bracket, rest = part.partition("[")
            parts.append(self.profile.wire_name(name) + (bracket + rest if bracket else ""))
        return ".".join(parts)

    # -- auth --------------------------------------------------------------------------

    def _is_token_request(self, request: SimRequest) -> bool:
        if self.profile.auth_mode is not AuthMode.CLIENT_CREDENTIALS:
            return False
        token_path = self.path_prefix + "/" + self.profile.token_path.lstrip("/")
        if self.profile.token_path.startswith(("http://", "https://")):
            token_path = _path_prefix(self.profile.token_path)
        return request.method == "POST" and request.path == token_path

    def _token(self, request: SimRequest) -> SimResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = _basic(request.headers.get("authorization", ""))
        if basic:
            client_id, client_secret = basic
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        if (client_id, client_secret) != (
            self.credentials.client_id,
            self.credentials.client_secret,
        ):
            return _json(401, {"error": "invalid_client", "error_description": "bad client"})
        token = secrets.token_urlsafe(24)
        lifetime = self.profile.token_lifetime
        self.tokens[token] = self.state.clock.now() + timedelta(seconds=lifetime)
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    def _authorised(self, request: SimRequest) -> bool:
        mode = self.profile.auth_mode
        header = request.headers.get("authorization", "")
        if mode is AuthMode.CLIENT_CREDENTIALS:
            token = header[7:] if header.lower().startswith("bearer ") else ""
            expires = self.tokens.get(token)
            return expires is not None and expires > self.state.clock.now()
        if mode is AuthMode.API_KEY_HEADER:
            sent = request.headers.get(self.profile.api_key_header.lower(), "")
            return secrets.compare_digest(sent, self.credentials.api_key)
        return _basic(header) == (self.credentials.username, self.credentials.password)

    # -- faults ------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.path in path and fault.method in ("", method):
                    self.faults.remove(fault)
                    return fault
        return None

    def _act_out(self, fault: Fault) -> SimResponse:
        if fault.kind == "rate_limit":
            return _error(
                429,
                "rate_limited",
                "slow down",
                headers={"Retry-After": f"{fault.retry_after:g}"},
            )
        if fault.kind == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.status == 503 else {}
            return SimResponse(fault.status, b"Service Unavailable", headers)
        if fault.kind == "malformed":
            return SimResponse(200, b'{"data": [{"item_co', {"Content-Type": "application/json"})
        return SimResponse(0, fault=fault.kind, delay=fault.delay)

    def _over_rate(self) -> bool:
        if self.max_requests_per_second <= 0:
            return False
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] > 1.0:
                self._window.popleft()
            if len(self._window) >= self.max_requests_per_second:
                return True
            self._window.append(now)
        return False

    # -- lists -------------------------------------------------------------------------

    def _filters(self, request: SimRequest) -> dict[str, str]:
        paging = {
            self.profile.page_param,
            self.profile.page_size_param,
            self.profile.cursor_param,
        }
        return {
            self.profile.our_name(k): v[0]
            for k, v in request.query.items()
            if k not in paging and v
        }

    def _page(self, request: SimRequest, records: list[dict[str, Any]]) -> tuple[int, Any]:
        filters = self._filters(request)
        since = filters.pop("modified_since", None)
        if since:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            records = [
                r
                for r in records
                if datetime.fromisoformat(r.get("modified_at") or r.get("as_of") or since) >= moment
            ]
        for name, wanted in filters.items():
            records = [r for r in records if str(r.get(name, "")).lower() == wanted.lower()]
        profile = self.profile
        size = int((request.query.get(profile.page_size_param) or [profile.page_size])[0])
        size = max(1, min(size, 1000))
        if profile.paging is PagingStyle.CURSOR:
            cursor = (request.query.get(profile.cursor_param) or [""])[0]
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
            chunk = records[start : start + size]
            more = start + size < len(records)
            token = base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
            return 200, {profile.items_key: chunk, profile.next_cursor_key: token}
        page = max(1, int((request.query.get(profile.page_param) or ["1"])[0]))
        total_pages = max(1, -(-len(records) // size))
        chunk = records[(page - 1) * size : page * size]
        return 200, {
            profile.items_key: chunk,
            profile.page_param: page,
            profile.total_pages_key: total_pages,
        }

    # -- handlers ----------------------------------------------------------------------

    def _customer_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.customers.values()))

    def _customer_get(self, request: SimRequest, values: dict[str, str], data: Any):
        return 200, self.state.customer(values["customer_code"])

    def _customer_create(self, request: SimRequest, values: dict[str, str], data: Any):
        return 201, self.state.create_customer(_object(data))

    def _customer_update(self, request: SimRequest, values: dict[str, str], data: Any):
        return 200, self.state.update_customer(values["customer_code"], _object(data))

    def _ship_to_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.customer(values["customer_code"])["ship_tos"]))

    def _ship_to_create(self, request: SimRequest, values: dict[str, str], data: Any):
        return 201, self.state.add_ship_to(values["customer_code"], _object(data))

    def _item_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.items.values()))

    def _item_get(self, request: SimRequest, values: dict[str, str], data: Any):
        item = self.state.items.get(values["item_code"])
        if item is None:
            raise ValidationFailed(
                "item_code", f"no item {values['item_code']}", code="not_found", status=404
            )
        return 200, item

    def _item_create(self, request: SimRequest, values: dict[str, str], data: Any):
        return 201, self.state.create_item(_object(data))

    def _item_update(self, request: SimRequest, values: dict[str, str], data: Any):
        return 200, self.state.update_item(values["item_code"], _object(data))

    def _inventory_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.stock.values()))

    def _order_create(self, request: SimRequest, values: dict[str, str], data: Any):
        return 201, self.state.create_order(_object(data))

    def _order_get(self, request: SimRequest, values: dict[str, str], data: Any):
        order = self.state.orders.get(values["order_number"])
        if order is None:
            raise ValidationFailed(
                "order_number",
                f"no sales order {values['order_number']}",
                code="not_found",
                status=404,
            )
        return 200, order

    def _order_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.orders.values()))

    def _shipment_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.shipments.values()))

    def _invoice_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.invoices.values()))

    def _invoice_get(self, request: SimRequest, values: dict[str, str], data: Any):
        invoice = self.state.invoices.get(values["invoice_number"])
        if invoice is None:
            raise ValidationFailed(
                "invoice_number",
                f"no invoice {values['invoice_number']}",
                code="not_found",
                status=404,
            )
        return 200, invoice

    def _payment_list(self, request: SimRequest, values: dict[str, str], data: Any):
        return self._page(request, list(self.state.payments.values()))

    def _payment_create(self, request: SimRequest, values: dict[str, str], data: Any):
        return 201, self.state.record_payment(_object(data))


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationFailed(
            "", "the body must be a JSON object", code="invalid_body", status=400
        )
    return data


def _json(status: int, payload: Any, *, headers: dict[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload).encode()
    return SimResponse(status, body, {"Content-Type": "application/json", **(headers or {})})


def _error(
    status: int,
    code: str,
    message: str,
    field: str = "",
    extra: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> SimResponse:
    error = {"code": code, "message": message, "field": field, **(extra or {})}
    return _json(status, {"error": error}, headers=headers)


def _json_or_raw(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return unquote(user), unquote(password)


def _path_prefix(url: str) -> str:
    # "http://host:1234/api/v1" -> "/api/v1"
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].rstrip("/") if slash >= 0 else ""
