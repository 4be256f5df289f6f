"""Recording a shop payment in M3 through an ARS040MI customer payment batch, exactly once.

The steps (reference §4.5; inputs and required flags from S11, ARS040MI release 14.x):
AddBatchHead (PBID, BOPE) → AddBatchLine (PBID, TRNO, CINO, INYR, CUNO, PYAM…) →
ControlBatch (PBID), which checks and posts the batch against the invoice's open item.

Exactly once. ARS040MI has no list transaction, so the batch cannot be searched by a shop
reference; instead the payment batch number is derived from the shop payment's own id
(`payment_batch_id`): the same payment always lands in the same batch, and M3 refuses a
second head or a second line with that key. Before writing, ARS200MI/LstInvoices says
whether the invoice is already settled (RECO 9), in which case nothing is written.

    attempt 1: LstInvoices (open) → AddBatchHead PBID=9000000123 → AddBatchLine → 504
    attempt 2: LstInvoices (open) → AddBatchHead: "already exists" → AddBatchLine:
               "already exists" → ControlBatch.  The line exists once: one payment.

Unverified [U]: that M3 keeps a posted batch's key (if it purges posted batches, the RECO 9
check is what stops a re-post, which covers full payments but not a partial one re-sent after
posting); the MI codes meaning "already exists" (option payment_duplicate_codes); the BOPE
value (option payment_batch_type); whether CINO is the invoice number IVNO or the extended
number EXIN on the tenant. Whether shop payments should go through ARS040MI at all rather
than cash sales (OIS215MI) is a business decision the reference leaves open.
"""

from dataclasses import dataclass, field
from typing import Any

from connectors.errors import DataError, NotFoundError, PermanentError, TransientError
from connectors.infor.client import M3Client
from connectors.infor.mi import MIResult

PROGRAM = "ARS040MI"
# Digits of PBID (S11: ARS040MI AddBatchHeadResponse, N 10).
PBID_DIGITS = 10
# A payment for an invoice M3 has not issued yet is retried after this many seconds.
INVOICE_WAIT_SECONDS = 3600.0
# The one line of a payment batch.
LINE_NUMBER = 1


@dataclass
class PaymentBatch:
    """One payment as ARS040MI records (see translate.payment_to_m3)."""

    head: dict[str, Any]
    line: dict[str, Any]

    @property
    def pbid(self) -> str:
        return str(self.head.get("PBID") or "")

    @property
    def cuno(self) -> str:
        return str(self.line.get("CUNO") or "")

    @property
    def cino(self) -> str:
        return str(self.line.get("CINO") or "")

    @property
    def inyr(self) -> str:
        return str(self.line.get("INYR") or "")


@dataclass
class PostedPayment:
    pbid: str
    created: bool = True  # False: nothing was written (already paid, or a re-send)
    already_paid: bool = False  # the open item was settled before this call
    resumed: bool = False  # an earlier attempt had written the head or the line
    steps: list[str] = field(default_factory=list)


def payment_batch_id(key: Any, *, prefix: str = "9") -> str:
    """The PBID of a shop payment: `prefix` + its numeric id, zero-padded to 10 digits."""
    text = str(key or "").strip()
    width = PBID_DIGITS - len(prefix)
    if not text.isdigit() or not prefix.isdigit() or len(text) > width:
        raise DataError(
            f"payment id {text!r} cannot become an M3 payment batch number: it must be at most "
            f"{width} digits after the prefix {prefix!r} (option payment_batch_prefix)",
            field="PBID",
            value=text,
        )
    return prefix + text.zfill(width)


def invoice_open_item(
    client: M3Client, *, cuno: str, cino: str, inyr: str | int
) -> dict[str, Any] | None:
    """The customer's ARS200MI open item of one invoice (CINO + INYR), or None."""
    rows = client.execute("ARS200MI", "LstInvoices", {"CUNO": cuno}, maxrecs=0)
    for row in rows:
        if str(row.get("CINO") or "").strip() == str(cino).strip() and _year(
            row.get("INYR")
        ) == _year(inyr):
            return row
    return None


def payment_invoice(client: M3Client, *, orno: str, invoice_number: str = "") -> dict[str, str]:
    """The M3 invoice a payment of order `orno` settles: {"CINO", "INYR", "CUNO"}.

    `invoice_number` (the shop's or EXIN/IVNO) picks one when the order has several
    invoices; with one invoice it may be empty. CINO = IVNO [U: EXIN on some tenants].
    """
    rows = client.execute("OIS350MI", "LstInvHeadByCo", {"ORNO": orno}, maxrecs=0)
    if invoice_number:
        wanted = str(invoice_number).strip()
        rows = [r for r in rows if wanted in (str(r.get("IVNO")), str(r.get("EXIN") or ""))]
    if not rows:
        raise TransientError(
            f"M3 order {orno} has no invoice{f' {invoice_number!r}' if invoice_number else ''} "
            "yet; the payment is recorded once M3 has invoiced it",
            field="IVNO",
            value=invoice_number or None,
            retry_after=INVOICE_WAIT_SECONDS,
        )
    if len(rows) > 1:
        numbers = ", ".join(str(r.get("IVNO")) for r in rows)
        raise PermanentError(
            f"M3 order {orno} has several invoices ({numbers}): say which one the payment "
            "settles (Payment.invoice_number)",
            field="IVNO",
            value=numbers,
        )
    row = rows[0]
    return {
        "CINO": str(row.get("IVNO") or ""),
        "INYR": str(_year(row.get("YEA4"))),
        "CUNO": str(row.get("CUNO") or ""),
    }


def payment_record(client: M3Client, *, batch: PaymentBatch) -> PostedPayment:
    """Post the payment once; see the module docstring for the steps and the re-send."""
    for name in ("pbid", "cuno", "cino", "inyr"):
        if not getattr(batch, name):
            raise DataError(
                f"an M3 payment batch needs {name.upper()} to be posted exactly once",
                field=name.upper(),
            )
    steps: list[str] = []
    item = invoice_open_item(client, cuno=batch.cuno, cino=batch.cino, inyr=batch.inyr)
    steps.append("open-item")
    if item is None:
        raise TransientError(
            f"M3 invoice {batch.cino}/{batch.inyr} of customer {batch.cuno} is not in "
            "receivables (ARS200MI) yet; the payment will be recorded once it is",
            field="CINO",
            value=batch.cino,
            retry_after=INVOICE_WAIT_SECONDS,
        )
    if str(item.get("RECO") or "").split(".")[0] == "9":
        return PostedPayment(
            pbid=batch.pbid, created=False, already_paid=True, steps=[*steps, "paid"]
        )
    resumed = False
    head, sent = client.execute_result(PROGRAM, "AddBatchHead", batch.head)
    if _exists(client, head):
        resumed = True
        steps.append("head-exists")
    else:
        client.raise_for_result(PROGRAM, head, sent)
        steps.append("head")
    line_record = {**batch.line, "PBID": batch.pbid}
    line, sent = client.execute_result(PROGRAM, "AddBatchLine", line_record)
    if _exists(client, line):
        resumed = True
        steps.append("line-exists")
    else:
        client.raise_for_result(PROGRAM, line, sent)
        steps.append("line")
    if client.settings.payment_control:
        control, sent = client.execute_result(PROGRAM, "ControlBatch", {"PBID": batch.pbid})
        client.raise_for_result(PROGRAM, control, sent)
        steps.append("control")
    return PostedPayment(
        pbid=batch.pbid,
        created=not (resumed and "line-exists" in steps),
        resumed=resumed,
        steps=steps,
    )


def payment_is_posted(client: M3Client, *, batch: PaymentBatch) -> bool:
    """Whether the invoice this payment settles shows paid (RECO 9) in ARS200MI."""
    item = invoice_open_item(client, cuno=batch.cuno, cino=batch.cino, inyr=batch.inyr)
    if item is None:
        raise NotFoundError(
            f"M3 invoice {batch.cino}/{batch.inyr} of customer {batch.cuno} not found",
            field="CINO",
            value=batch.cino,
        )
    return str(item.get("RECO") or "").split(".")[0] == "9"


def _exists(client: M3Client, result: MIResult) -> bool:
    return (
        not result.ok
        and bool(result.error_code)
        and result.error_code in client.settings.payment_duplicate_codes
    )


def _year(value: Any) -> int:
    try:
        return int(str(value).strip().split(".")[0])
    except (TypeError, ValueError):
        return 0
