"""What the connector asks M3, one function per operation (reads and simple writes).

Each takes the client first and keyword-only arguments, returns typed records (Decimal, date,
trimmed text) and raises the connector errors: MIError (permanent, naming transaction, field
and value) when M3 refuses, TransientError when the call should be retried later.
"""

import time
from datetime import date
from typing import Any

from connectors.errors import DataError, NotFoundError, PermanentError
from connectors.infor.catalog import convert_output
from connectors.infor.client import BulkTransaction, M3Client
from connectors.infor.mi import MIResult

# -- customers (CRS610MI) ---------------------------------------------------------------


def customer_find_by_email(client: M3Client, *, email: str) -> dict[str, Any] | None:
    """The customer whose MAIL is `email` (case-insensitive), or None.

    `customer_lookup` says how: CRS610MI/SearchCustomer with `customer_search_query`, or any
    list transaction "PROG/TRANSACTION" that takes MAIL (e.g. a CMS100MI list). Several
    customers with the same e-mail is a conflict a person must resolve.
    """
    settings = client.settings
    wanted = email.strip().lower()
    program, _, transaction = settings.customer_lookup.partition("/")
    if transaction == "SearchCustomer":
        query = settings.customer_search_query.format(email=wanted)
        rows = client.execute(program, transaction, {"SQRY": query})
    else:
        rows = client.execute(program, transaction, {"MAIL": wanted})
    matches = [r for r in rows if str(r.get("MAIL") or "").strip().lower() == wanted]
    if len(matches) > 1:
        numbers = ", ".join(str(r.get("CUNO")) for r in matches)
        raise PermanentError(
            f"several M3 customers have e-mail {wanted!r} ({numbers}): merge them or link the "
            "shop customer to one by hand",
            field="MAIL",
            value=wanted,
        )
    return matches[0] if matches else None


def customer_create(client: M3Client, *, record: dict[str, Any]) -> str:
    """CRS610MI/Add from the configured customer template (CUTM); returns CUNO."""
    record = dict(record)
    record.setdefault("CUTM", client.settings.customer_template)
    if not record.get("CUTM"):
        raise PermanentError(
            "no customer template: set the M3 connection option 'customer_template' (CUTM)",
            field="customer_template",
        )
    row = client.execute_one("CRS610MI", "Add", record) or {}
    cuno = str(row.get("CUNO") or record.get("CUNO") or "")
    if not cuno:
        raise PermanentError(
            f"M3 CRS610MI/Add returned no customer number: {row.get('ERRM') or row}",
            field="CUNO",
        )
    return cuno


def customer_get(client: M3Client, *, cuno: str) -> dict[str, Any]:
    row = client.execute_one("CRS610MI", "GetBasicData", {"CUNO": cuno})
    if row is None:
        raise NotFoundError(f"M3 customer {cuno!r} not found", field="CUNO", value=cuno)
    return row


def customer_update(client: M3Client, *, cuno: str, record: dict[str, Any]) -> None:
    client.execute("CRS610MI", "ChgBasicData", {**record, "CUNO": cuno})


def customer_address_add(client: M3Client, *, cuno: str, record: dict[str, Any]) -> None:
    client.execute("CRS610MI", "AddAddress", {**record, "CUNO": cuno})


def customer_addresses(
    client: M3Client, *, cuno: str, address_type: str = ""
) -> list[dict[str, Any]]:
    record = {"CUNO": cuno, "ADRT": address_type or None}
    return client.execute("CRS610MI", "LstAddresses", record)


# -- items, prices and stock (MMS200MI) ---------------------------------------------------


def item_get(client: M3Client, *, itno: str, basic: bool = False) -> dict[str, Any]:
    transaction = "GetItmBasic" if basic else "Get"
    row = client.execute_one("MMS200MI", transaction, {"ITNO": itno})
    if row is None:
        raise NotFoundError(f"M3 item {itno!r} not found", field="ITNO", value=itno)
    return row


def items_changed(
    client: M3Client, *, since: date, until: date | None = None, maxrecs: int = 0
) -> list[dict[str, Any]]:
    """Items changed since a date (delta sync by change date; the cursor is LMDT)."""
    return client.execute(
        "MMS200MI", "LstItmByChgDate", {"FLMD": since, "TLMD": until}, maxrecs=maxrecs
    )


def item_update(client: M3Client, *, itno: str, record: dict[str, Any]) -> None:
    """Change an item's basic data through the configured `item_update_transaction`.

    [D/U] No item write is verified in the reference pack; the transaction is a setting
    (e.g. "MMS200MI/UpdItmBasic") and empty means disabled: PermanentError naming the option.
    """
    configured = client.settings.item_update_transaction.strip()
    program, _, transaction = configured.partition("/")
    if not configured:
        raise PermanentError(
            f"M3 item {itno}: item updates are disabled: set the M3 connection option "
            "'item_update_transaction' (e.g. MMS200MI/UpdItmBasic, unverified: confirm it on "
            "the tenant) to send shop-owned fields to M3",
            field="item_update_transaction",
        )
    if not transaction:
        raise DataError(
            f"M3 option item_update_transaction {configured!r} must be PROGRAM/TRANSACTION",
            field="item_update_transaction",
            value=configured,
        )
    client.execute(program, transaction, {**record, "ITNO": itno})


def item_price(client: M3Client, *, itno: str) -> dict[str, Any] | None:
    return client.execute_one("MMS200MI", "GetItmPrice", {"ITNO": itno})


def stock_balances(
    client: M3Client, *, items: list[str], warehouses: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[MIResult]]:
    """GetItmWhsBal for every item and warehouse, in bulk reads.

    Returns the balances found and the failed results (an item missing in a warehouse is
    normal in M3 and should not stop the others).
    """
    whs = list(warehouses or client.settings.stock_warehouses)
    if not whs:
        raise PermanentError(
            "no warehouse to read stock from: set the M3 option 'warehouses' (or 'warehouse')",
            field="warehouses",
        )
    txs = [BulkTransaction("GetItmWhsBal", {"WHLO": w, "ITNO": i}) for i in items for w in whs]
    found: list[dict[str, Any]] = []
    failed: list[MIResult] = []
    for result, sent in client.execute_bulk("MMS200MI", txs):
        if result.ok:
            found.extend(convert_output({**sent, **r}) for r in result.records)
        else:
            failed.append(result)
    return found, failed


# -- orders (read side; creation is orders.py) --------------------------------------------


def order_get(client: M3Client, *, orno: str) -> dict[str, Any]:
    row = client.execute_one("OIS100MI", "GetHead", {"ORNO": orno})
    if row is None:
        raise NotFoundError(f"M3 order {orno!r} not found", field="ORNO", value=orno)
    return row


def order_lines(client: M3Client, *, orno: str) -> list[dict[str, Any]]:
    return client.execute("OIS100MI", "LstLine", {"ORNO": orno}, maxrecs=0)


def orders_list(
    client: M3Client, *, cuno: str, status_from: str = "", status_to: str = ""
) -> list[dict[str, Any]]:
    record = {"CUNO": cuno, "ORSL": status_from or None, "ORST": status_to or None}
    return client.execute("OIS100MI", "LstHead", record, maxrecs=0)


# -- deliveries (MWS411MI, MWS410MI) -------------------------------------------------------


def deliveries_for_order(client: M3Client, *, orno: str) -> list[dict[str, Any]]:
    """One dict per delivery of the order: MWS410MI head + its lines from MWS411MI.

    The tracking number is read from the `tracking_field` of the head (unverified, §4.4).
    """
    lines = client.execute(
        "MWS411MI",
        "LstDelLnByOrd",
        {"RORC": client.settings.delivery_order_category, "RIDN": orno},
        maxrecs=0,
    )
    by_dlix: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_dlix.setdefault(str(line.get("DLIX")), []).append(line)
    deliveries = []
    for dlix, dlines in by_dlix.items():
        head = client.execute_one("MWS410MI", "GetHead", {"DLIX": dlix}) or {}
        tracking = str(head.get(client.settings.tracking_field) or "")
        deliveries.append({"head": head, "lines": dlines, "tracking_number": tracking})
    return deliveries


# -- invoices and open items (OIS350MI, ARS200MI) -------------------------------------------


def invoices_for_order(client: M3Client, *, orno: str) -> list[dict[str, Any]]:
    return client.execute("OIS350MI", "LstInvHeadByCo", {"ORNO": orno}, maxrecs=0)


def open_items(client: M3Client, *, cuno: str, only_open: bool = False) -> list[dict[str, Any]]:
    """Customer's AR invoices; RECO 9 means paid (§4.5)."""
    return client.execute(
        "ARS200MI", "LstInvoices", {"CUNO": cuno, "AAC0": 1 if only_open else None}, maxrecs=0
    )


def invoice_is_paid(record: dict[str, Any]) -> bool:
    return str(record.get("RECO") or "").split(".")[0] == "9"


# -- connection check ----------------------------------------------------------------------


def connection_check(client: M3Client) -> dict[str, Any]:
    """Token, one harmless read and its round-trip time; raises the classified error."""
    result: dict[str, Any] = {"token_ms": None}
    if client.tokens is not None:
        started = time.perf_counter()
        client.tokens.access_token()
        result["token_ms"] = round((time.perf_counter() - started) * 1000, 1)
    program, _, transaction = client.settings.check_transaction.partition("/")
    if not transaction:
        raise DataError(
            f"M3 option check_transaction {client.settings.check_transaction!r} must be "
            "PROGRAM/TRANSACTION",
            field="check_transaction",
        )
    started = time.perf_counter()
    rows = client.execute(program, transaction, {}, maxrecs=1)
    result.update(
        ok=True,
        transaction=client.settings.check_transaction,
        rows=len(rows),
        round_trip_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    result["message"] = (
        f"M3 reachable: {result['transaction']} answered in {result['round_trip_ms']} ms"
        + (f", token in {result['token_ms']} ms" if result["token_ms"] is not None else "")
    )
    return result
