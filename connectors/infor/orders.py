"""Creating a sales order in M3 through a batch (temporary) order, exactly once.

The steps (reference §4.1): AddBatchHead → AddBatchAddress / AddBatchLine / AddBatchText →
Confirm, which releases the batch order into a real customer order (batch status 90) or stops
it at 15/20/25/30/55 with texts in LstErrMsgOrder.

Calls: the head goes alone (its answer is the temporary ORNO every other transaction needs);
addresses, lines, texts and Confirm then go in one bulk POST (two calls per order, plus the
look-up). Content errors (unknown item…) are found by Confirm, format errors are caught before
sending by the field catalog, so putting Confirm in the same bulk cannot release an order with
a line silently missing — and if M3 ever did, the error says so loudly.

Exactly once: before creating, the order is looked up by CUOR (the shop reference) among
batch heads, then real orders. A transient failure at any step leaves either nothing, or a
batch head found by that look-up on the next attempt: the attempt resumes there, adding only
the lines (matched by CUPO = shop line number) that are not in M3 yet.

    attempt 1: LstBatchHead (none) → AddBatchHead ORNO=T1 → bulk [lines, Confirm] → 504
    attempt 2: LstBatchHead finds T1 (CUOR) → STAT 90? done : LstBatchLine → missing lines
               + Confirm.  No second AddBatchHead, so never a second order.

A batch order stopped by Confirm (15/25/30) is explained with LstErrMsgOrder as a permanent
error. Retrying it after a fix confirms it again; if the fix changed the order's lines (a
mapping now gives another item), the unreleased batch order is deleted and made anew.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.errors import DataError, PermanentError, TransientError
from connectors.infor.client import BulkTransaction, M3Client
from connectors.infor.mi import MIError, MIResult

PROGRAM = "OIS100MI"

BATCH_STATUS = {
    "15": "error in the order head",
    "20": "head OK but lines missing",
    "25": "error in a line",
    "30": "credit stopped",
    "55": "abnormal interruption",
    "90": "customer order created",
}
CONFIRMED = "90"
# "55 abnormal interruption": the job died; confirming again is worth a retry.
INTERRUPTED = "55"


@dataclass
class BatchOrder:
    """An order as OIS100MI batch transactions (see translate.order_to_batch)."""

    head: dict[str, Any]
    lines: list[dict[str, Any]]
    addresses: list[dict[str, Any]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    # Order charges (shipping…), each {CRID, CRAM, …}; see translate.order_charges_to_m3.
    charges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cuor(self) -> str:
        return str(self.head.get("CUOR") or "")

    @property
    def cuno(self) -> str:
        return str(self.head.get("CUNO") or "")


@dataclass
class PlacedOrder:
    orno: str  # the real customer order number
    batch_orno: str = ""  # the temporary (batch) order number
    status: str = CONFIRMED
    created: bool = True  # False: it already existed (a re-send)
    resumed: bool = False  # True: an earlier attempt had created the batch head
    steps: list[str] = field(default_factory=list)


@dataclass
class FoundOrder:
    batch_orno: str = ""
    orno: str = ""
    status: str = ""


def order_find(client: M3Client, *, cuno: str, cuor: str) -> FoundOrder | None:
    """The batch or customer order whose CUOR is the shop reference, if any.

    No MI transaction takes CUOR as a key, so the customer's orders are listed and filtered
    (reference §4.1); LstBatchHead also gives the real ORNR of confirmed batch orders.
    """
    settings = client.settings
    # Batch heads are listed by customer only: a head not yet confirmed may have no line
    # status, and a status filter would hide exactly the one a resume must find.
    batch = [
        r
        for r in client.execute(PROGRAM, "LstBatchHead", {"CUNO": cuno}, maxrecs=0)
        if str(r.get("CUOR") or "") == cuor
    ]
    if batch:
        # prefer a confirmed one; otherwise the newest temporary order
        batch.sort(key=lambda r: (str(r.get("STAT")) == CONFIRMED, str(r.get("ORNO"))))
        row = batch[-1]
        return FoundOrder(
            batch_orno=str(row.get("ORNO") or ""),
            orno=str(row.get("ORNR") or "") if str(row.get("STAT")) == CONFIRMED else "",
            status=str(row.get("STAT") or ""),
        )
    if settings.order_search_query:
        # One shared web customer can hold thousands of orders: ask the search engine.
        query = {"SQRY": settings.order_search_query.format(cuor=cuor)}
        rows = client.execute(PROGRAM, "SearchHead", query, maxrecs=0)
    else:
        status_range = {
            "CUNO": cuno,
            "ORSL": settings.order_lookup_status_from or None,
            "ORST": settings.order_lookup_status_to or None,
        }
        rows = client.execute(PROGRAM, "LstHead", status_range, maxrecs=0)
    real = [r for r in rows if str(r.get("CUOR") or "") == cuor]
    if len(real) > 1:
        numbers = ", ".join(str(r.get("ORNO")) for r in real)
        raise PermanentError(
            f"M3 has several orders with CUOR {cuor!r} ({numbers}): cancel the duplicates in "
            "OIS300 and link the right one",
            field="CUOR",
            value=cuor,
        )
    if real:
        return FoundOrder(orno=str(real[0].get("ORNO")), status=CONFIRMED)
    return None


def order_place(client: M3Client, *, batch: BatchOrder) -> PlacedOrder:
    """Create the order in M3 once; see the module docstring for the steps and resume."""
    if not batch.cuor or not batch.cuno:
        raise PermanentError(
            "a batch order needs CUNO and CUOR (the shop reference) to be created exactly once",
            field="CUOR" if not batch.cuor else "CUNO",
        )
    steps: list[str] = []
    found = order_find(client, cuno=batch.cuno, cuor=batch.cuor)
    steps.append("find")
    if found and found.orno:
        return PlacedOrder(orno=found.orno, batch_orno=found.batch_orno, created=False, steps=steps)
    resumed = found is not None
    existing: set[str] = set()
    batch_orno = ""
    if found:
        batch_orno = found.batch_orno
        in_m3 = client.execute(PROGRAM, "LstBatchLine", {"ORNO": batch_orno}, maxrecs=0)
        # Without a way to list charges, a batch order holding no line yet may or may not
        # hold its charges (a lost answer): it is replaced rather than guessed about.
        unsure = bool(batch.charges) and not client.settings.charge_list_transaction
        if _lines_match(batch, in_m3) and not (unsure and not in_m3):
            # Resume: add what is missing and confirm (again, if a person fixed the cause
            # of an earlier stop inside M3, e.g. created the missing item).
            existing = {_cupo(r) for r in in_m3}
            steps.append("resume")
        else:
            # The order changed since the batch head was made (a mapping was fixed after a
            # stop): the temporary order was never released, so it is replaced, not patched.
            client.execute(PROGRAM, "DelBatchHead", {"ORNO": batch_orno})
            batch_orno = ""
            steps.append("replace")
    if not batch_orno:
        head = client.execute_one(PROGRAM, "AddBatchHead", batch.head) or {}
        batch_orno = str(head.get("ORNO") or "")
        if not batch_orno:
            raise PermanentError("M3 OIS100MI/AddBatchHead returned no ORNO", field="ORNO")
        steps.append("head")

    txs: list[BulkTransaction] = []
    if not existing:
        # Addresses and texts go before the lines: if any line is in M3, they are too.
        txs += [
            BulkTransaction("AddBatchAddress", {**a, "ORNO": batch_orno}) for a in batch.addresses
        ]
        txs += [BulkTransaction("AddBatchText", {**t, "ORNO": batch_orno}) for t in batch.texts]
    if batch.charges:
        # Charges go after addresses and texts and before the lines (see _charges_to_add),
        # in a call of their own: M3 may refuse a charge (unknown code) while accepting the
        # rest, and Confirm must never ride in a call with a failed charge, or the order would
        # be released without it.
        txs += _charges_to_add(
            client, batch=batch, batch_orno=batch_orno, resumed=resumed, lines_in_m3=bool(existing)
        )
        steps.append("charges")
        if txs:
            _raise_first_failure(client.execute_bulk(PROGRAM, txs))
        txs = []
    missing = [line for line in batch.lines if _cupo(line) not in existing]
    txs += [BulkTransaction("AddBatchLine", {**line, "ORNO": batch_orno}) for line in missing]
    # Confirm rides in the last call, but only after every earlier call came back clean: a
    # failed line must never be left behind by a released order.
    size = client.settings.bulk_max if client.bulk_enabled else 1
    in_last = ((len(txs) + 1) % size or size) - 1
    early, last = txs[: len(txs) - in_last], txs[len(txs) - in_last :]
    results = client.execute_bulk(PROGRAM, early) if early else []
    _raise_first_failure(results)
    results = client.execute_bulk(
        PROGRAM, [*last, BulkTransaction("Confirm", {"ORNO": batch_orno})]
    )
    steps.append("lines+confirm")

    *adds, (confirm, _) = results
    failed = [(r, sent) for r, sent in adds if not r.ok]
    confirm_row = confirm.records[0] if confirm.ok and confirm.records else {}
    status = str(confirm_row.get("STAT") or "")
    if failed:
        result, sent = failed[0]
        error = result.error(PROGRAM, sent)
        if status == CONFIRMED:
            raise PermanentError(
                f"M3 released order {confirm_row.get('ORNO')} (CUOR {batch.cuor}) but "
                f"{len(failed)} transaction(s) failed, first: {error}. Complete the order by "
                "hand in OIS101, then mark this record resolved",
                field=error.field,
                value=error.value,
            )
        raise error
    if not confirm.ok:
        if confirm.not_processed:
            raise TransientError(f"M3 did not process Confirm of batch order {batch_orno}")
        raise confirm.error(PROGRAM, {"ORNO": batch_orno})
    if status == INTERRUPTED:
        raise TransientError(
            f"M3 batch order {batch_orno} (CUOR {batch.cuor}): status 55, abnormal "
            "interruption; it will be confirmed again"
        )
    if status != CONFIRMED:
        raise _explain(client, batch=batch, batch_orno=batch_orno, status=status)
    orno = str(confirm_row.get("ORNO") or "")
    if not orno or orno == batch_orno:
        row = client.execute_one(PROGRAM, "GetOrderNo", {"ORNO": batch_orno}) or {}
        orno = str(row.get("ORNR") or "")
    return PlacedOrder(
        orno=orno, batch_orno=batch_orno, status=status, resumed=resumed, steps=steps
    )


def _charges_to_add(
    client: M3Client, *, batch: BatchOrder, batch_orno: str, resumed: bool, lines_in_m3: bool
) -> list[BulkTransaction]:
    """The charges of `batch` that the batch order does not hold yet, as transactions.

    A charge is money: it must never be added twice when an interrupted order is resumed.
    With the option `charge_list_transaction` the batch order's charges are listed and
    matched on the charge code (one charge per code and order); without it, a batch order
    that already holds lines is taken to hold its charges too, since they are written first.
    """
    settings = client.settings
    id_field = settings.charge_id_field
    for number, charge in enumerate(batch.charges, start=1):
        if not str(charge.get(id_field) or "").strip():
            raise DataError(
                f"order {batch.cuor} charge {number}: no charge code ({id_field}); set the M3 "
                "option 'shipping_charge' or map the charge",
                field=id_field,
            )
    wanted = list(batch.charges)
    if resumed and settings.charge_list_transaction:
        rows = client.execute(
            PROGRAM, settings.charge_list_transaction, {"ORNO": batch_orno}, maxrecs=0
        )
        present = {str(r.get(id_field) or "").strip() for r in rows}
        wanted = [c for c in wanted if str(c.get(id_field)).strip() not in present]
    elif resumed and lines_in_m3:
        wanted = []
    return [BulkTransaction(settings.charge_transaction, {**c, "ORNO": batch_orno}) for c in wanted]


def _raise_first_failure(results: list[tuple[MIResult, dict[str, str]]]) -> None:
    for result, sent in results:
        if not result.ok:
            if result.not_processed:
                raise TransientError(f"M3 did not process OIS100MI/{result.transaction}")
            raise result.error(PROGRAM, sent)


def _cupo(line: dict[str, Any]) -> str:
    return str(line.get("CUPO") or "").split(".")[0]


def _lines_match(batch: BatchOrder, in_m3: list[dict[str, Any]]) -> bool:
    """Every line already in M3 is one of ours, with the same item and quantity."""
    ours = {_cupo(line): line for line in batch.lines}
    for row in in_m3:
        line = ours.get(_cupo(row))
        if line is None or str(row.get("ITNO") or "") != str(line.get("ITNO") or ""):
            return False
        try:
            if Decimal(str(row.get("ORQT") or 0)) != Decimal(str(line.get("ORQT") or 0)):
                return False
        except ArithmeticError:
            return False
    return True


def _explain(
    client: M3Client, *, batch: BatchOrder, batch_orno: str, status: str
) -> PermanentError:
    """A stuck batch order as an error naming the field and value M3 complained about."""
    messages = client.execute(PROGRAM, "LstErrMsgOrder", {"ORNO": batch_orno}, maxrecs=0)
    texts = [str(m.get("TX60") or "").strip() for m in messages if m.get("TX60")]
    field_name, value = "", None
    items = {str(line.get("ITNO")): line for line in batch.lines}
    for m in messages:
        data = str(m.get("MDTA") or "").strip()
        text = str(m.get("TX60") or "")
        for itno in items:
            if itno and (data == itno or itno in text):
                field_name, value = "ITNO", itno
                break
        if field_name:
            break
    where = ""
    if field_name == "ITNO":
        line = items[str(value)]
        where = f" line {_cupo(line) or '?'} ITNO {value!r}:"
    meaning = BATCH_STATUS.get(status, "not released")
    detail = "; ".join(texts) or "no message (see OIS275)"
    return MIError(
        f"M3 batch order {batch_orno} (CUOR {batch.cuor}) stopped at status {status} "
        f"({meaning}):{where} {detail}. Fix the data (or the batch order in OIS275), then retry",
        program=PROGRAM,
        transaction="Confirm",
        code=status,
        field=field_name or "ORNO",
        value=value if field_name else batch_orno,
        details={
            "batch_status": status,
            "messages": [{k: str(v) for k, v in m.items()} for m in messages],
        },
    )
