"""A PrestaShop Webservice over real HTTP: same URLs, query syntax, formats and errors.

In-process for tests (`with PrestaShopSimulator(seed=1) as sim: sim.base_url`) or standalone
through `manage.py simulate prestashop` (cli.py). Behaviour follows
../shared/reference/prestashop/README.md; where the simulator simplifies, it says so here:

- the API root (`GET /api/`) always answers XML;
- `schema=blank` is supported, `schema=synopsis` answers the blank schema too;
- associations are read-only through the API (kept as they are on PUT);
- a key's permissions are per resource and method, for every shop.
"""

import base64
import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from connectors.prestashop.simulator import render
from connectors.prestashop.simulator.faults import (
    DROP,
    ERROR,
    MALFORMED,
    RATE_LIMIT,
    TIMEOUT,
    TIMEOUT_AFTER_WRITE,
    Faults,
)
from connectors.prestashop.simulator.query import (
    QueryError,
    parse_display,
    parse_filter,
    parse_languages,
    parse_limit,
    parse_sort,
    sort_records,
)
from connectors.prestashop.simulator.schema import (
    ALLOWED_METHODS,
    BOOL,
    BY_NAME,
    DATE,
    DEC,
    ELEMENTS,
    ID,
    INT,
    LANG,
    SCHEMAS,
)
from connectors.prestashop.simulator.state import DATE_FORMAT, ShopState, default_value, seed_state
from connectors.simulator_http import SimulatorHTTPServer

# A 32-character key, as the back office generates them.
DEFAULT_KEY = "PRESTASHOPSIMULATORWEBSERVICEKEY"
ALL_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"})
# Field length limits the shop validates on write (ObjectModel definitions).
MAX_LENGTHS = {
    ("order_payments", "order_reference"): 9,
    ("order_payments", "transaction_id"): 254,
    ("order_carriers", "tracking_number"): 64,
    ("addresses", "alias"): 32,
    ("addresses", "postcode"): 12,
}
# Catalogue rules the shop applies on product and combination writes (ObjectModel
# definitions of Product and Combination in the 1.7/8 core [unverified: read from the core,
# not in the reference pack]): lengths of text and multi-language fields.
CATALOGUE_CLASSES = {"products": "Product", "combinations": "Combination"}
CATALOGUE_LENGTHS = {
    ("products", "reference"): 64,
    ("products", "ean13"): 13,
    ("products", "name"): 128,
    ("products", "link_rewrite"): 128,
    ("combinations", "reference"): 64,
    ("combinations", "ean13"): 13,
}
DEFAULT_LANGUAGE = 1  # the simulated shop's PS_LANG_DEFAULT
REALM = (
    'Basic realm="Welcome to PrestaShop Webservice, please enter the authentication key as '
    'the login. No password required."'
)
# Requests remembered for tests (method, path, query).
REQUEST_LOG_SIZE = 10_000


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/xml;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class WsError(Exception):
    """A PrestaShop error answer: status, code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PrestaShopSimulator:
    def __init__(
        self,
        *,
        seed: int = 1,
        key: str = DEFAULT_KEY,
        version: str = "8",
        host: str = "127.0.0.1",
        port: int = 0,
        products: int = 12,
        customers: int = 8,
        orders: int = 20,
        timezone: str = "Europe/Paris",
        shops: int = 1,
        permissions: dict[str, Iterable[str]] | None = None,
        faults: Faults | None = None,
        orders_per_minute: float = 0.0,
    ) -> None:
        self.profile = render.profile(version)
        self.state: ShopState = seed_state(
            seed=seed,
            products=products,
            customers=customers,
            orders=orders,
            timezone=timezone,
            shops=shops,
        )
        self.keys: dict[str, dict[str, frozenset[str]]] = {}
        self.add_key(key, permissions)
        self.faults = faults or Faults(seed=seed)
        self.orders_per_minute = orders_per_minute
        self.host, self.port = host, port
        self.requests: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._server: SimulatorHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ---------------------------------------------------------------- lifecycle

    def add_key(self, key: str, permissions: dict[str, Iterable[str]] | None = None) -> None:
        """A key with per-resource methods (default: every method PrestaShop allows)."""
        if permissions is None:
            granted = {name: ALLOWED_METHODS[name] for name in SCHEMAS}
        else:
            granted = {name: frozenset(m.upper() for m in ms) for name, ms in permissions.items()}
        self.keys[key] = granted

    def set_version(self, version: str) -> None:
        self.profile = render.profile(version)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api"

    def start(self) -> str:
        server = _Server((self.host, self.port), _Handler)
        server.sim = self
        self._server = server
        self._stopping.clear()
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how fast stop() returns
            name="prestashop-sim",
            daemon=True,
        )
        thread.start()
        self._threads = [thread]
        if self.orders_per_minute > 0:
            placer = threading.Thread(target=self._place_orders, name="ps-sim-orders", daemon=True)
            placer.start()
            self._threads.append(placer)
        return self.base_url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> "PrestaShopSimulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _place_orders(self) -> None:
        interval = 60.0 / self.orders_per_minute
        while not self._stopping.wait(interval):
            self.place_order()

    # ---------------------------------------------------------------- knobs on data

    def place_order(self, **kwargs: Any) -> dict[str, Any]:
        """A new order as checkout makes one (see ShopState.place_order for arguments)."""
        return self.state.place_order(**kwargs)

    def set_stock(self, product_id: int, attribute_id: int, quantity: int) -> dict[str, Any]:
        return self.state.set_stock(product_id, attribute_id, quantity)

    def record(self, resource: str, record_id: int) -> dict[str, Any] | None:
        return self.state.get(resource, record_id)

    # ---------------------------------------------------------------- dispatch

    def dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        base: str,
    ) -> Answer:
        """One request, without transport faults. `headers` keys are lower case."""
        as_json = _wants_json(query, headers)
        try:
            return self._dispatch(method, path, query, headers, body, base, as_json)
        except (WsError, QueryError) as error:
            errors = [(error.code, error.message)]
            if as_json:
                return Answer(error.status, render.json_errors(errors), "application/json")
            return Answer(error.status, render.xml_errors(errors))

    def _dispatch(self, method, path, query, headers, body, base, as_json) -> Answer:
        segments = [s for s in path.split("/") if s]
        if "api" not in segments:
            return Answer(404, b"Not Found", "text/plain")
        rest = segments[segments.index("api") + 1 :]
        api_base = base + "/".join(segments[: segments.index("api") + 1])
        if method == "POST" and query.get("ps_method", "").upper() in ("PUT", "PATCH", "DELETE"):
            method = query["ps_method"].upper()
        key = _key_of(headers, query)
        if not key:
            # No key at all: plain text, not a PrestaShop document (reference §1).
            return Answer(401, b"401 Unauthorized", "text/plain", {"WWW-Authenticate": REALM})
        granted = self.keys.get(key)
        if granted is None:
            code, message = (
                (18, "Invalid authentication key format")
                if len(key) != 32
                else (20, "Authentication key is not active")
            )
            raise WsError(401, code, message)
        if not rest:
            if method not in ("GET", "HEAD"):
                raise WsError(405, 101, f"Method {method} is not valid")
            return Answer(200, render.xml_api_root(granted, api_base))
        resource = rest[0]
        if resource not in SCHEMAS:
            close = [r for r in SCHEMAS if r.startswith(resource[:4])]
            raise WsError(
                400,
                27,
                f'Resource of type "{resource}" does not exists.'
                + (f' Did you mean: "{close[0]}"?' if close else ""),
            )
        if resource not in granted:
            raise WsError(
                401,
                21,
                f'Resource of type "{resource}" is not allowed with this authentication key',
            )
        if method == "PATCH" and not self.profile.patch:
            raise WsError(405, 23, "Method PATCH is not valid")
        if method not in ALLOWED_METHODS[resource]:
            raise WsError(405, 101, f"Method {method} is not allowed for the resource {resource}")
        if method not in granted[resource]:
            raise WsError(
                405,
                25,
                f"Method {method} is not allowed for the resource {resource} with this "
                "authentication key",
            )
        shop = self._shop_of(query)
        record_id = _id_of(rest[1]) if len(rest) > 1 else None
        with self.state.lock:
            if method in ("GET", "HEAD"):
                answer = self._read(resource, record_id, query, api_base, as_json, shop)
                return (
                    Answer(answer.status, b"", answer.content_type) if method == "HEAD" else answer
                )
            if method == "DELETE":
                return self._delete(resource, record_id)
            values = _parse_body(resource, body)
            if method == "POST":
                record = self._create(resource, values, query)
                status = 201
            else:
                record = self._replace(resource, record_id, values, query, patch=method == "PATCH")
                status = 200
            return self._single(resource, record, api_base, as_json, status)

    def _shop_of(self, query: dict[str, str]) -> int | None:
        """The shop a call is about: id_shop, "all" (None), or the default shop 1."""
        value = query.get("id_shop")
        if value == "all":
            return None
        if value in (None, ""):
            return 1
        shop = _id_of(value)
        if shop not in self.state.tables["shops"]:
            raise WsError(404, 999, f"No shop found with id {value}")
        return shop

    # ---------------------------------------------------------------- reads

    def _single(self, resource, record, base, as_json, status=200) -> Answer:
        if as_json:
            return Answer(
                status, render.json_single(resource, record, self.profile), "application/json"
            )
        return Answer(status, render.xml_single(resource, record, base))

    def _read(self, resource, record_id, query, base, as_json, shop) -> Answer:
        if query.get("schema") in ("blank", "synopsis"):
            blank = {f.name: default_value(f.kind) for f in SCHEMAS[resource]}
            blank["id"] = ""
            return self._single(resource, blank, base, as_json)
        dates = query.get("date") == "1"
        display = parse_display(resource, query.get("display"))
        languages = parse_languages(query.get("language"))
        table = self.state.tables[resource]
        if record_id is not None:
            record = table.get(record_id)
            if record is None:
                return Answer(404, b"", "text/xml;charset=utf-8")  # empty body (reference §3)
            if display is None:
                return self._single(resource, record, base, as_json)
            records = [record]  # any `display` makes a list, even for one id (reference §2)
        else:
            records = list(table.values())
            if (
                shop is not None
                and "id_shop" in BY_NAME[resource]
                and resource != "stock_availables"
            ):
                records = [r for r in records if r.get("id_shop") in (shop, 0)]
            elif shop is not None and resource == "stock_availables":
                records = [r for r in records if r.get("id_shop") == shop]
            for name, expr in query.items():
                if name.startswith("filter[") and name.endswith("]"):
                    predicate = parse_filter(resource, name[7:-1], expr, dates=dates)
                    records = [r for r in records if predicate(r)]
            if "sort" in query:
                records = sort_records(
                    resource, records, parse_sort(resource, query["sort"], dates=dates)
                )
            if "limit" in query:
                offset, count = parse_limit(query["limit"])
                records = records[offset : offset + count]
        if as_json:
            body = render.json_list(resource, records, display, self.profile, languages)
            return Answer(200, body, "application/json")
        return Answer(200, render.xml_list(resource, records, display, base, languages))

    # ---------------------------------------------------------------- writes

    def _create(self, resource: str, values: dict[str, Any], query: dict[str, str]) -> dict:
        if values.get("id") not in (None, ""):
            raise WsError(400, 91, "id is forbidden when adding a new resource")
        values.pop("id", None)
        _require(resource, values)
        now = self.state.now()
        for stamp in ("date_add", "date_upd"):
            if stamp in BY_NAME[resource] and values.get(stamp) in (
                None,
                "",
                "0000-00-00 00:00:00",
            ):
                values[stamp] = now
        send_email = query.get("sendemail") == "1"
        if resource == "order_histories":
            order = self.state.get("orders", values["id_order"])
            if order is None:
                raise WsError(
                    400, 85, 'Validation error: "Property OrderHistory->id_order is not valid"'
                )
            if values["id_order_state"] not in self.state.tables["order_states"]:
                raise WsError(
                    400,
                    85,
                    'Validation error: "Property OrderHistory->id_order_state is not valid"',
                )
            record = self.state.new_record(resource, values)
            self.state.change_state(order, values["id_order_state"], send_email=send_email)
            return record
        if resource == "customers":
            values["passwd"] = (
                "$2y$10$" + hashlib.sha256(values["passwd"].encode()).hexdigest()[:53]
            )
            values["secure_key"] = hashlib.md5(str(time.time()).encode()).hexdigest()  # noqa: S324
            values.setdefault("id_shop", 1)
            values.setdefault("id_shop_group", 1)
            values.setdefault("active", 1)
            values.setdefault("id_default_group", 3)
            values["associations"] = {"groups": [{"id": values["id_default_group"]}]}
        if resource in CATALOGUE_CLASSES:
            full = {f.name: default_value(f.kind) for f in SCHEMAS[resource]}
            _validate_catalogue(self.state, resource, {**full, **values})
            record = self.state.new_record(resource, values)
            shop = _id_of(query["id_shop"]) if query.get("id_shop", "").isdigit() else 1
            if resource == "products":
                self.state.product_created(record, shop_id=shop)
            else:
                self.state.combination_created(record, shop_id=shop)
            return record
        return self.state.new_record(resource, values)

    def _replace(self, resource, record_id, values, query, *, patch: bool) -> dict:
        body_id = values.get("id")
        if record_id is None:
            record_id = body_id  # `PUT /api/x` with <id> in the body (reference §3, wire P1)
        if record_id is None:
            raise WsError(400, 90, "Id is required when modifying a resource")
        if body_id not in (None, "") and body_id != record_id:
            raise WsError(400, 89, "Id in the body does not match the id in the URL")
        table = self.state.tables[resource]
        old = table.get(record_id)
        if old is None:
            raise WsError(404, 92, "Invalid ID")
        if patch:
            new = {**old, **{k: v for k, v in values.items() if not BY_NAME[resource][k].readonly}}
            if resource in CATALOGUE_CLASSES:
                # A PATCH sets the languages it names on the loaded object; the others stay.
                for name, value in values.items():
                    if BY_NAME[resource][name].kind == LANG:
                        new[name] = {**(old.get(name) or {}), **value}
        else:
            # PUT replaces: what the body leaves out is reset (reference §3).
            _require(resource, values)
            new = {}
            for f in SCHEMAS[resource]:
                if f.readonly:
                    new[f.name] = old[f.name]
                else:
                    new[f.name] = values.get(f.name, default_value(f.kind))
            if "associations" in old:
                new["associations"] = old["associations"]
        new["id"] = record_id
        if "date_upd" in new:
            new["date_upd"] = self.state.now()
        if "date_add" in new and new["date_add"] in ("", "0000-00-00 00:00:00"):
            new["date_add"] = self.state.now()
        send_email = query.get("sendemail") == "1"
        if resource in CATALOGUE_CLASSES:
            _validate_catalogue(self.state, resource, new)
            if resource == "combinations" and new["id_product"] != old["id_product"]:
                raise WsError(
                    400, 85, 'Validation error: "Property Combination->id_product is not valid"'
                )
        if resource == "stock_availables" and old["depends_on_stock"]:
            raise WsError(
                500, 133, "You cannot change the quantity of a product that depends on stock"
            )
        table[record_id] = new
        if resource == "stock_availables":
            self.state.stock_written(new)
        elif resource == "order_carriers" and new["tracking_number"] != old["tracking_number"]:
            self.state.tracking_written(new, send_email=send_email)
        elif resource == "orders" and new["current_state"] != old["current_state"]:
            self.state.change_state(new, new["current_state"], send_email=send_email)
        return new

    def _delete(self, resource, record_id) -> Answer:
        if record_id is None or record_id not in self.state.tables[resource]:
            raise WsError(404, 87, f"Id(s) not exists: {record_id}")
        record = self.state.tables[resource].pop(record_id)
        if resource in CATALOGUE_CLASSES:
            self.state.catalogue_deleted(resource, record)
        return Answer(200, b"")


# -------------------------------------------------------------------- helpers


def _wants_json(query: dict[str, str], headers: dict[str, str]) -> bool:
    # Headers win over query parameters (reference §2).
    for name in ("io-format", "output-format"):
        if headers.get(name):
            return headers[name].upper() == "JSON"
    for name in ("output_format", "io_format"):
        if query.get(name):
            return query[name].upper() == "JSON"
    return False


def _key_of(headers: dict[str, str], query: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return query.get("ws_key", "")


def _id_of(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise WsError(400, 30, f'Id "{text}" is not valid') from None


def _require(resource: str, values: dict[str, Any]) -> None:
    for f in SCHEMAS[resource]:
        if f.required and values.get(f.name) in (None, "", {}):
            raise WsError(400, 41, f'parameter "{f.name}" required')


def _validate_catalogue(state: ShopState, resource: str, record: dict[str, Any]) -> None:
    """Product / combination rules, checked on the record as it would be saved: 400 code 84
    for multi-language fields, 85 for the others, in PrestaShop's words."""
    cls = CATALOGUE_CLASSES[resource]

    def fail(code: int, text: str) -> WsError:
        return WsError(400, code, f'Validation error: "{text}"')

    for f in SCHEMAS[resource]:
        limit = CATALOGUE_LENGTHS.get((resource, f.name))
        value = record.get(f.name)
        if f.kind == LANG:
            for text in (value or {}).values():
                if limit and len(text) > limit:
                    raise fail(
                        84,
                        f"Property {cls}->{f.name} length ({len(text)}) must be between 0 "
                        f"and {limit}",
                    )
            continue
        if limit and len(str(value or "")) > limit:
            raise fail(
                85,
                f"Property {cls}->{f.name} length ({len(str(value))}) must be between 0 and "
                f"{limit}",
            )
    for lang, text in (record.get("link_rewrite") or {}).items():
        if text and not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
            raise fail(84, f"Property {cls}->link_rewrite is not valid (language {lang})")
    ean = str(record.get("ean13") or "")
    if ean and not ean.isdigit():
        raise fail(85, f"Property {cls}->ean13 is not valid")
    if resource == "products":
        if not (record.get("name") or {}).get(DEFAULT_LANGUAGE):
            raise fail(84, f"Property {cls}->name is empty for default language.")
        for name in ("price", "weight"):  # isPrice, isUnsignedFloat
            if Decimal(str(record.get(name) or "0")) < 0:
                raise fail(85, f"Property {cls}->{name} is not valid")
    else:
        if record.get("id_product") not in state.tables["products"]:
            raise fail(85, f"Property {cls}->id_product is not valid")
        if int(record.get("minimal_quantity") or 0) < 1:  # isPositiveInt
            raise fail(85, f"Property {cls}->minimal_quantity is not valid")


def _parse_body(resource: str, body: bytes) -> dict[str, Any]:
    """The XML body's fields as typed values; unknown fields are ignored, as PS does."""
    text = body.strip()
    if text.startswith(b"xml="):
        text = unquote_plus(text[4:].decode("utf-8")).encode("utf-8")
    try:
        root = SafeET.fromstring(text)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise WsError(
            500, 127, f"XML error : {exc}\n{text[:200].decode('utf-8', 'replace')}"
        ) from None
    element = ELEMENTS[resource]
    record = root.find(element) if root.tag == "prestashop" else None
    if record is None:
        raise WsError(400, 40, f"The XML body must contain a <{element}> element")
    fields = BY_NAME[resource]
    values: dict[str, Any] = {}
    for child in record:
        f = fields.get(child.tag)
        if f is None:
            continue
        values[f.name] = _typed(resource, f.name, f.kind, child)
    return values


def _typed(resource: str, name: str, kind: str, node: Element) -> Any:
    def invalid() -> WsError:
        return WsError(
            400,
            85,
            f'Validation error: "Property {ELEMENTS[resource]}->{name} is not valid"',
        )

    if kind == LANG:
        return {
            int(lang.get("id", "1")): lang.text or "" for lang in node if lang.tag == "language"
        }
    text = node.text or ""
    if text != text.strip() and "\n" in text:
        # A pretty-printed value breaks PrestaShop's validators (reference §2).
        raise invalid()
    if kind in (ID, INT):
        if text == "":
            return 0
        try:
            return int(text)
        except ValueError:
            raise invalid() from None
    if kind == BOOL:
        if text in ("", "0", "false"):
            return 0
        if text in ("1", "true"):
            return 1
        raise invalid()
    if kind == DEC:
        if text == "":
            return "0.000000"
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise invalid() from None
        return f"{number:.6f}"
    if kind == DATE and text not in ("", "0000-00-00 00:00:00", "0000-00-00"):
        for fmt in (DATE_FORMAT, "%Y-%m-%d"):
            try:
                datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise invalid()
    limit = MAX_LENGTHS.get((resource, name))
    if limit and len(text) > limit:
        raise invalid()
    return text


class _Server(SimulatorHTTPServer):
    block_on_close = False
    sim: PrestaShopSimulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stalls
    server: _Server
    server_version = "Apache"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks read the request log instead

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        sim = self.server.sim
        started = time.perf_counter()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        segments = [s for s in url.path.split("/") if s]
        resource = None
        if "api" in segments and len(segments) > segments.index("api") + 1:
            resource = segments[segments.index("api") + 1]
        sim.requests.append((method, url.path, query))
        fault = sim.faults.pick(method, resource)
        if fault is not None and fault.kind == DROP:
            self.close_connection = True
            return
        delay = sim.faults.delay()
        if delay:
            time.sleep(delay)
        if fault is not None and fault.kind == TIMEOUT:
            time.sleep(sim.faults.timeout_seconds)
        if fault is not None and fault.kind == RATE_LIMIT:
            answer = Answer(
                429,
                b"Too Many Requests",
                "text/plain",
                {"Retry-After": str(int(fault.retry_after))},
            )
        elif fault is not None and fault.kind == ERROR:
            answer = Answer(
                fault.status,
                render.xml_errors([(fault.status, "Internal error (injected by the simulator)")]),
            )
        else:
            host = (
                headers.get("host")
                or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
            )
            answer = sim.dispatch(method, url.path, query, headers, body, f"http://{host}/")
        payload = answer.body
        if fault is not None and fault.kind == MALFORMED and payload:
            payload = payload[: max(1, len(payload) // 2)]
        if fault is not None and fault.kind == TIMEOUT_AFTER_WRITE:
            time.sleep(sim.faults.timeout_seconds)
        sha1 = hashlib.sha1(payload).hexdigest()  # noqa: S324 (PrestaShop's own header)
        if (
            method == "GET"
            and answer.status == 200
            and sim.profile.conditional_get
            and headers.get("local-content-sha1") == sha1
        ):
            # Conditional GET (reference §1): unchanged since the caller's copy.
            answer = Answer(304, b"", answer.content_type)
            payload = b""
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("PSWS-Version", sim.profile.psws_version)
            self.send_header("X-Powered-By", "PrestaShop Webservice")
            self.send_header("Access-Time", str(int(time.time())))
            self.send_header("Execution-Time", f"{time.perf_counter() - started:.3f}")
            self.send_header("Content-Sha1", sha1)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
