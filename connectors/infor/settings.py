"""The M3 connection's own settings, read from Connection.options (unknown keys are the
base client's). Every choice the reference marks unverified [U] is one of these."""

from dataclasses import dataclass, field, fields
from typing import Any

from connectors.errors import PermanentError

# Transactions whose name starts with one of these only read; anything else writes, and a write
# is never retried blindly by the HTTP layer (M3 writes are GETs: the verb says nothing).
READ_PREFIXES = ("Get", "Lst", "Search", "Sel")
# Transactions per bulk call: a vendor defaults to 80 and warns that big batches time out at
# the gateway's 60 s limit (reference §3.1, S21).
DEFAULT_BULK_MAX = 80


def is_read(transaction: str) -> bool:
    return transaction.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class M3Settings:
    cono: str = ""  # company; empty = the service account user's default
    divi: str = ""  # division
    api_version: str = "v2"  # "v2" (bulk available) or "v1" (matrix parameters, no bulk)
    maxrecs: int = 100  # row cap of list transactions; 0 = no limit
    dateformat: str = "YMD8"
    righttrim: bool = True
    use_bulk: bool = True  # send an order's lines and confirm in bulk calls
    bulk_max: int = DEFAULT_BULK_MAX
    token_auth_method: str = "client_secret_basic"  # noqa: S105 (a method name; §2)
    scope: str = ""
    # Customers
    customer_template: str = ""  # CUTM for CRS610MI/Add
    # How to find a customer by e-mail: "SearchCustomer" with `customer_search_query`, or a
    # list transaction ("PROG/TRANSACTION", e.g. a CMS100MI list keyed on MAIL) given MAIL.
    customer_lookup: str = "CRS610MI/SearchCustomer"
    customer_search_query: str = 'MAIL:"{email}"'  # [U] search-engine syntax of the tenant
    # Orders
    order_type: str = ""  # ORTP
    facility: str = ""  # FACI
    warehouse: str = ""  # WHLO of the order head and lines
    delivery_address_type: str = "1"  # ADRT of the delivery address (OIS002 type 01, S19)
    invoice_address_type: str = ""  # ADRT for the invoice address; empty = not sent [U]
    order_lookup_status_from: str = "05"  # ORSL range searched for an existing order by CUOR
    order_lookup_status_to: str = "99"
    # Search real orders by CUOR with OIS100MI/SearchHead instead of listing the customer's
    # orders, e.g. 'CUOR:"{cuor}"' [U: search syntax and index of the tenant]
    order_search_query: str = ""
    # Stock
    warehouses: tuple[str, ...] = ()  # published warehouses; default: `warehouse`
    available_field: str = "AV01"  # AV01, AVAL, AV02 or "STQT-ALQT" [U: tenant set-up]
    # Deliveries
    delivery_order_category: str = "3"  # RORC of customer orders in MWS411MI [U]
    tracking_field: str = "ETRN"  # MWS410MI/GetHead field holding the tracking number [U]
    # Order charges (OIS100MI). [D]: neither the transactions nor their fields are in the
    # reference pack; every name is an option so a tenant's real ones can be set.
    shipping_charge: str = ""  # CRID of the shipping charge; empty = shipping is not sent
    charge_transaction: str = "AddBatchCharge"
    # Lists a batch order's charges when an interrupted order is resumed, so a charge is never
    # added twice. Empty = trust the write order instead (charges go before the lines, so a
    # batch order holding any line holds its charges) [U: unsafe if bulk_max splits them].
    charge_list_transaction: str = "LstBatchCharge"
    charge_id_field: str = "CRID"
    charge_amount_field: str = "CRAM"
    # Customer payments (ARS040MI payment batches, reference §4.5)
    payment_batch_type: str = ""  # BOPE of the batch [U: tenant set-up, no default known]
    # PBID = this prefix + the shop payment's numeric id, zero-padded to PBID's 10 digits: the
    # same payment always gets the same batch, so a retry meets M3's "already exists" [U].
    payment_batch_prefix: str = "9"
    # MI codes meaning "that batch / line already exists" on a re-send [U: not documented; the
    # default is the simulator's code]. Any other error stops the record, never posts twice.
    payment_duplicate_codes: tuple[str, ...] = ("XRE0104",)
    payment_control: bool = True  # run ARS040MI/ControlBatch after adding the line
    # Items: shop-owned fields sent back to M3. [D/U]: the reference pack verifies no item
    # write transaction (§4.3 lists Get/GetItmBasic/LstItmByChgDate/GetItmPrice only); set
    # e.g. "MMS200MI/UpdItmBasic" once confirmed on the tenant. Empty = item updates disabled.
    item_update_transaction: str = ""
    # Connection check
    check_transaction: str = "CRS610MI/LstByNumber"
    # MI error codes to treat as transient (e.g. record locks); none documented
    transient_mi_codes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, options: dict[str, Any] | None) -> "M3Settings":
        options = dict(options or {})
        known: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in options and f.name != "extra":
                value = options.pop(f.name)
                if f.name in ("warehouses", "transient_mi_codes", "payment_duplicate_codes"):
                    value = tuple(value.split(",") if isinstance(value, str) else value)
                known[f.name] = value
        settings = cls(**known, extra=options)
        if settings.api_version not in ("v1", "v2"):
            raise PermanentError(
                f"M3 option api_version {settings.api_version!r} must be 'v1' or 'v2'",
                field="api_version",
                value=settings.api_version,
            )
        return settings

    @property
    def stock_warehouses(self) -> tuple[str, ...]:
        return self.warehouses or ((self.warehouse,) if self.warehouse else ())
