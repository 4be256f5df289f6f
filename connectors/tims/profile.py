"""The TIMS REST profile: every transport detail of the assumed interface, as configuration.

ASSUMED INTERFACE. No public TIMS API specification exists (see connectors/tims/README.md).
Every default below is our own design, not TIMS's: paths, auth mode, paging and field names.
Moving to the real interface means changing this configuration (Connection.options["profile"])
and adding tests built from real payloads, not changing code.

The alias map goes from TIMS's field names to ours: `{"CustNo": "customer_code"}` means the
wire says CustNo where our records say customer_code. It applies at every nesting level, to
request bodies, query parameters and error fields alike.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.errors import DataError


class AuthMode(StrEnum):
    CLIENT_CREDENTIALS = "bearer_client_credentials"  # OAuth 2.0 client credentials grant
    API_KEY_HEADER = "api_key_header"
    BASIC = "basic"


class PagingStyle(StrEnum):
    PAGE = "page"  # ?page=1&page_size=100, body says total_pages
    CURSOR = "cursor"  # ?cursor=…, body says next_cursor


class Operation(StrEnum):
    CUSTOMER_LIST = "customer_list"
    CUSTOMER_GET = "customer_get"
    CUSTOMER_CREATE = "customer_create"
    CUSTOMER_UPDATE = "customer_update"
    SHIP_TO_LIST = "ship_to_list"
    SHIP_TO_CREATE = "ship_to_create"
    ITEM_LIST = "item_list"
    ITEM_GET = "item_get"
    ITEM_CREATE = "item_create"
    ITEM_UPDATE = "item_update"
    INVENTORY_LIST = "inventory_list"
    SALES_ORDER_CREATE = "sales_order_create"
    SALES_ORDER_GET = "sales_order_get"
    SALES_ORDER_LIST = "sales_order_list"
    SHIPMENT_LIST = "shipment_list"
    INVOICE_LIST = "invoice_list"
    INVOICE_GET = "invoice_get"
    PAYMENT_LIST = "payment_list"
    PAYMENT_CREATE = "payment_create"


# Operation -> (HTTP method, path template). ASSUMED: our design, after the reference note §4.
DEFAULT_ROUTES: dict[Operation, tuple[str, str]] = {
    Operation.CUSTOMER_LIST: ("GET", "/customers"),
    Operation.CUSTOMER_GET: ("GET", "/customers/{customer_code}"),
    Operation.CUSTOMER_CREATE: ("POST", "/customers"),
    Operation.CUSTOMER_UPDATE: ("PATCH", "/customers/{customer_code}"),
    Operation.SHIP_TO_LIST: ("GET", "/customers/{customer_code}/ship-tos"),
    Operation.SHIP_TO_CREATE: ("POST", "/customers/{customer_code}/ship-tos"),
    Operation.ITEM_LIST: ("GET", "/items"),
    Operation.ITEM_GET: ("GET", "/items/{item_code}"),
    # Item writes (shop-owned fields back to TIMS): ASSUMED like every route here; the
    # reference note §4 lists only item reads.
    Operation.ITEM_CREATE: ("POST", "/items"),
    Operation.ITEM_UPDATE: ("PATCH", "/items/{item_code}"),
    Operation.INVENTORY_LIST: ("GET", "/inventory"),
    Operation.SALES_ORDER_CREATE: ("POST", "/sales-orders"),
    Operation.SALES_ORDER_GET: ("GET", "/sales-orders/{order_number}"),
    Operation.SALES_ORDER_LIST: ("GET", "/sales-orders"),
    Operation.SHIPMENT_LIST: ("GET", "/shipments"),
    Operation.INVOICE_LIST: ("GET", "/invoices"),
    Operation.INVOICE_GET: ("GET", "/invoices/{invoice_number}"),
    Operation.PAYMENT_LIST: ("GET", "/payments"),
    Operation.PAYMENT_CREATE: ("POST", "/payments"),
}


class TimsProfile(BaseModel):
    """How to speak to one TIMS installation. Built from Connection.options["profile"]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = ""
    auth_mode: AuthMode = AuthMode.CLIENT_CREDENTIALS
    # Relative to base_url unless absolute.
    token_path: str = "/oauth/token"  # noqa: S105 (a path, not a secret)
    # Used when the token response has no expires_in (seconds).
    token_lifetime: int = Field(default=3600, gt=0)
    token_auth_method: str = "client_secret_post"  # noqa: S105 (a method name)
    scope: str | None = None
    api_key_header: str = "X-Api-Key"
    idempotency_header: str = "Idempotency-Key"
    # Operation -> path template; missing operations keep DEFAULT_ROUTES' path.
    paths: dict[Operation, str] = Field(default_factory=dict)
    paging: PagingStyle = PagingStyle.PAGE
    page_size: int = Field(default=100, gt=0, le=10_000)
    page_param: str = "page"
    page_size_param: str = "page_size"
    cursor_param: str = "cursor"
    # Keys of the list envelope {"data": [...], "total_pages": n, "next_cursor": "..."}.
    items_key: str = "data"
    total_pages_key: str = "total_pages"
    next_cursor_key: str = "next_cursor"
    error_key: str = "error"
    # TIMS name -> our name.
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _one_to_one(cls, aliases: dict[str, str]) -> dict[str, str]:
        ours = list(aliases.values())
        duplicates = sorted({name for name in ours if ours.count(name) > 1})
        if duplicates:
            raise ValueError(f"several TIMS names map to {', '.join(duplicates)}")
        return aliases

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any] | None, *, base_url: str = ""
    ) -> "TimsProfile":
        """The profile in Connection.options["profile"]; DataError names a bad setting."""
        data = dict((options or {}).get("profile") or {})
        if base_url and not data.get("base_url"):
            data["base_url"] = base_url
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = "profile." + ".".join(str(p) for p in first["loc"] if p != "[key]")
            raise DataError(
                f"TIMS profile setting {field} is invalid: {first['msg']}",
                field=field,
                value=repr(first.get("input"))[:80],
            ) from None

    # -- routes ------------------------------------------------------------------------

    def method(self, operation: Operation) -> str:
        return DEFAULT_ROUTES[operation][0]

    def path_template(self, operation: Operation) -> str:
        return self.paths.get(operation) or DEFAULT_ROUTES[operation][1]

    def path(self, operation: Operation, **values: str) -> str:
        template = self.path_template(operation)
        try:
            return template.format(**{k: _quote_segment(v) for k, v in values.items()})
        except KeyError as exc:
            raise DataError(
                f"TIMS profile path for {operation} ({template!r}) uses {exc}, "
                f"which this operation does not provide ({', '.join(values) or 'nothing'})",
                field=f"profile.paths.{operation}",
                value=template,
            ) from None

    # -- names -------------------------------------------------------------------------

    def to_ours(self, data: Any) -> Any:
        """A wire structure with TIMS names renamed to ours (every nesting level)."""
        return _rename(data, self.aliases)

    def to_wire(self, data: Any) -> Any:
        """One of our structures with our names renamed to TIMS's."""
        return _rename(data, {ours: theirs for theirs, ours in self.aliases.items()})

    def wire_name(self, ours: str) -> str:
        for theirs, name in self.aliases.items():
            if name == ours:
                return theirs
        return ours

    def our_name(self, theirs: str) -> str:
        return self.aliases.get(theirs, theirs)


def _rename(data: Any, names: Mapping[str, str]) -> Any:
    if not names:
        return data
    if isinstance(data, dict):
        return {names.get(k, k): _rename(v, names) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename(v, names) for v in data]
    return data


def _quote_segment(value: Any) -> str:
    return quote(str(value), safe="")
