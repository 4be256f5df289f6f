"""The simulated M3 company: seeded master data, MI transactions and order progression.

MI behaviour follows the reference pack: inputs checked against the field catalog (mandatory
and length, MI-style errors with errorField/errorCode); batch orders checked at Confirm, which
stops them at 15 / 20 / 25 / 30 with texts for LstErrMsgOrder; released orders move through
line statuses 22 → 33 → 44 → 66 → 77 (ORSL/ORST kept consistent) on a configurable clock,
creating the delivery (with a tracking number), the invoice and, last, the payment.
Batch orders take charges (OIS100MI AddBatchCharge / LstBatchCharge, [D]) that go into the
order and invoice totals; ARS040MI payment batches (AddBatchHead / AddBatchLine /
ControlBatch) settle invoices, which ARS200MI/LstInvoices then shows paid (RECO 9).
`listeners` are told of every order status change (notify.py sends them as BODs).

Error codes the reference does not give are the simulator's own (prefix "SIM").
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from connectors.catalog import FieldType
from connectors.infor.catalog import DICTIONARY, transaction

# Seconds (simulated) from order release to each step; `M3State(progress=...)` overrides.
DEFAULT_PROGRESS = {"allocate": 60, "pick": 120, "deliver": 180, "invoice": 240, "pay": 300}
CODE_MANDATORY = "SIM0001"  # [sim] mandatory input missing
CODE_TOO_LONG = "SIM0002"  # [sim] input longer than the field
CODE_NOT_NUMERIC = "SIM0003"  # [sim] not a number / date
CODE_NOT_FOUND = "XRE0103"  # [sim] record does not exist
CODE_EXISTS = "XRE0104"  # [sim] record already exists
CODE_NOT_AUTHORIZED = "XAU0008"  # real code: "Not authorized for company" (reference §3.4)


class MINotOK(Exception):
    """An MI business error: becomes a NOK result with HTTP 200."""

    def __init__(self, message: str, *, code: str = "", field: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.kind = kind or "ServerReturnedNOK"


def _d(value: Any) -> Decimal:
    try:
        return Decimal(str(value).strip() or "0")
    except ArithmeticError:
        return Decimal("0")


def _num(value: Decimal | int) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text


@dataclass
class BatchOrder:
    orno: str
    head: dict[str, str]
    lines: list[dict[str, str]] = field(default_factory=list)
    addresses: dict[str, dict[str, str]] = field(default_factory=dict)
    texts: list[dict[str, str]] = field(default_factory=list)
    stat: str = "10"
    ornr: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)
    charges: list[dict[str, str]] = field(default_factory=list)


@dataclass
class CustomerOrder:
    orno: str
    head: dict[str, str]
    lines: list[dict[str, Any]]
    released_at: float
    batch_orno: str
    status: str = "22"
    dlix: str = ""
    tracking: str = ""
    ivno: str = ""
    paid: bool = False
    charges: Decimal = Decimal(0)  # order charges (shipping…), tax excluded


@dataclass
class PaymentBatch:
    pbid: str
    head: dict[str, str]
    lines: dict[str, dict[str, str]] = field(default_factory=dict)  # TRNO -> line
    controlled: bool = False


class M3State:
    """Everything the simulated M3 holds; thread-safe (one lock around each transaction)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        cono: str = "100",
        divi: str = "AAA",
        items: int = 40,
        customers: int = 10,
        progress: dict[str, float] | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.cono, self.divi = cono, divi
        self.facility = "A01"
        self.warehouses = ["100", "200"]
        self.progress = {**DEFAULT_PROGRESS, **(progress or {})}
        self.time_scale = time_scale
        self._clock = clock
        self._started = clock()
        self._offset = 0.0
        self.epoch = datetime(2024, 1, 15, 8, 0, tzinfo=UTC)
        self.items: dict[str, dict[str, str]] = {}
        self.balances: dict[tuple[str, str], dict[str, Decimal]] = {}
        self.customers: dict[str, dict[str, str]] = {}
        self.templates: dict[str, dict[str, str]] = {}
        self.addresses: dict[tuple[str, str, str], dict[str, str]] = {}
        self.batch_orders: dict[str, BatchOrder] = {}
        self.orders: dict[str, CustomerOrder] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, str]] = {}
        self.credit_stopped: set[str] = set()
        # Charge codes known to OIS100MI/AddBatchCharge [D: the simulator's own table].
        self.charge_codes: dict[str, str] = {"FRT": "Freight", "HAN": "Handling"}
        # ARS040MI customer payment batches by PBID, and invoices settled through them.
        self.payment_batches: dict[str, PaymentBatch] = {}
        self.settled: set[str] = set()
        # Called with (event, order) when an order's status changes: "released", "status".
        self.listeners: list[Callable[[str, CustomerOrder], None]] = []
        self.calls: list[dict[str, Any]] = []  # every MI transaction received, kept for tests
        self._seq = {"cuno": 100, "batch": 1000012344, "orno": 123455, "dlix": 5000, "ivno": 7000}
        self._seed(items, customers)

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds since start."""
        return (self._clock() - self._started) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self._offset += seconds
            self.tick()

    def today(self) -> str:
        return (self.epoch + timedelta(seconds=self.now())).strftime("%Y%m%d")

    # -- seed ----------------------------------------------------------------------------

    def _seed(self, n_items: int, n_customers: int) -> None:
        rnd = self.random
        words = ["Mug", "Plate", "Bowl", "Glass", "Jug", "Vase", "Cup", "Tray", "Lamp", "Box"]
        for i in range(n_items):
            itno = f"PS-{1001 + i}"
            self.items[itno] = {
                "ITNO": itno,
                "STAT": "20",
                "ITDS": f"{rnd.choice(words)} {i + 1}",
                "FUDS": f"Seeded item {i + 1}",
                "RESP": "SIM",
                "UNMS": "EA",
                "ITGR": "HOME",
                "ITCL": "GEN",
                "ITTY": "FG",
                "NEWE": _num(Decimal(rnd.randint(1, 50)) / 10),
                "GRWE": _num(Decimal(rnd.randint(51, 90)) / 10),
                "SALE": "1",
                "SPUN": "EA",
                "LMDT": self.today(),
                "SAPR": _num(Decimal(rnd.randint(300, 9900)) / 100),
                "CUCS": "EUR",
            }
            for whlo in self.warehouses:
                self.balances[(whlo, itno)] = {
                    "STQT": Decimal(rnd.randint(0, 200)),
                    "ALQT": Decimal(0),
                    "QUQT": Decimal(0),
                    "RJQT": Decimal(0),
                    "PLQT": Decimal(0),
                    "ORQT": Decimal(0),
                    "REQT": Decimal(0),
                }
        self.templates["WEBTMPL"] = {
            "CUTP": "0",
            "STAT": "20",
            "CUCD": "EUR",
            "ORTP": "WEB",
            "MODL": "PST",
            "TEDL": "DAP",
            "TEPY": "30",
        }
        for i in range(n_customers):
            cuno = f"WEB{i + 1:04d}"
            self.customers[cuno] = {
                "CUNO": cuno,
                "CUNM": f"Customer {i + 1}",
                "CUA1": f"{i + 1} Main Street",
                "PONO": f"750{i:02d}",
                "TOWN": "Paris",
                "CSCD": "FR",
                "PHNO": f"01020304{i:02d}",
                "MAIL": f"customer{i + 1}@example.com",
                "LNCD": "FR",
                "STAT": "20",
                "CUCD": "EUR",
                "LMDT": self.today(),
                **{k: self.templates["WEBTMPL"][k] for k in ("ORTP", "MODL", "TEDL", "TEPY")},
            }

    def _next(self, name: str) -> int:
        self._seq[name] += 1
        return self._seq[name]

    # -- dispatch ------------------------------------------------------------------------

    def execute(
        self, program: str, name: str, record: dict[str, str], *, cono: str = ""
    ) -> list[dict[str, str]]:
        """Run one transaction; MINotOK for business errors."""
        with self.lock:
            self.tick()
            self.calls.append({"program": program, "transaction": name, "record": dict(record)})
            if cono and cono != self.cono:
                raise MINotOK(
                    f"Not authorized for company {cono}", code=CODE_NOT_AUTHORIZED, field="CONO"
                )
            handler = getattr(self, f"_{program}_{name}", None)
            if handler is None:
                raise MINotOK(
                    f"Transaction {program}/{name} does not exist",
                    kind="TransactionNotFound",
                )
            self._check(program, name, record)
            return handler({k: v.strip() for k, v in record.items()})

    def _check(self, program: str, name: str, record: dict[str, str]) -> None:
        tx = transaction(program, name)
        if tx is None:
            return
        for fld in tx.inputs.fields:
            value = (record.get(fld.name) or "").strip()
            if not value:
                if fld.required:
                    raise MINotOK(
                        f"{fld.description} must be entered",
                        code=CODE_MANDATORY,
                        field=fld.name,
                        kind="MandatoryInputFieldNotFound",
                    )
                continue
            if fld.type is FieldType.STRING and fld.max_length and len(value) > fld.max_length:
                raise MINotOK(
                    f"{fld.description} {value} is too long, max {fld.max_length}",
                    code=CODE_TOO_LONG,
                    field=fld.name,
                    kind="InputFieldTooLong",
                )
            if fld.type is FieldType.NUMBER:
                try:
                    Decimal(value)
                except ArithmeticError:
                    raise MINotOK(
                        f"{fld.description} {value} is not numeric",
                        code=CODE_NOT_NUMERIC,
                        field=fld.name,
                    ) from None
            if fld.type is FieldType.DATE and not (len(value) == 8 and value.isdigit()):
                raise MINotOK(
                    f"{fld.description} {value} is not a valid date",
                    code=CODE_NOT_NUMERIC,
                    field=fld.name,
                )

    @staticmethod
    def field_length(name: str) -> int:
        spec = DICTIONARY.get(name)
        return spec[1] if spec and spec[0] == "A" else 0

    # -- CRS610MI customers ----------------------------------------------------------------

    def _customer(self, cuno: str) -> dict[str, str]:
        row = self.customers.get(cuno)
        if row is None:
            raise MINotOK(
                f"Customer number {cuno} does not exist", code=CODE_NOT_FOUND, field="CUNO"
            )
        return row

    def _CRS610MI_SearchCustomer(self, r: dict[str, str]) -> list[dict[str, str]]:
        query = r["SQRY"]
        if ":" in query:
            key, _, value = query.partition(":")
            key, value = key.strip().upper(), value.strip().strip('"').lower()
            hits = [c for c in self.customers.values() if c.get(key, "").lower() == value]
        else:
            q = query.lower()
            hits = [c for c in self.customers.values() if q in " ".join(c.values()).lower()]
        return [{k: c.get(k, "") for k in ("CUNO", "CUNM", "STAT", "MAIL")} for c in hits]

    def _CRS610MI_LstByNumber(self, r: dict[str, str]) -> list[dict[str, str]]:
        start = r.get("CUNO", "")
        return [dict(c) for k, c in sorted(self.customers.items()) if k >= start]

    def _CRS610MI_Add(self, r: dict[str, str]) -> list[dict[str, str]]:
        template = self.templates.get(r["CUTM"])
        if template is None:
            raise MINotOK(
                f"Customer template {r['CUTM']} does not exist", code=CODE_NOT_FOUND, field="CUTM"
            )
        cuno = r.get("CUNO") or f"WEB{self._next('cuno'):04d}"
        if cuno in self.customers:
            raise MINotOK(f"Customer {cuno} already exists", code=CODE_EXISTS, field="CUNO")
        row = {**template, **{k: v for k, v in r.items() if k != "CUTM"}, "CUNO": cuno}
        row["LMDT"] = self.today()
        self.customers[cuno] = row
        return [{"CUNO": cuno}]

    def _CRS610MI_GetBasicData(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [dict(self._customer(r["CUNO"]))]

    def _CRS610MI_ChgBasicData(self, r: dict[str, str]) -> list[dict[str, str]]:
        row = self._customer(r["CUNO"])
        row.update({k: v for k, v in r.items() if v})
        row["LMDT"] = self.today()
        return [{"CUNO": r["CUNO"]}]

    def _CRS610MI_AddAddress(self, r: dict[str, str]) -> list[dict[str, str]]:
        self._customer(r["CUNO"])
        key = (r["CUNO"], r["ADRT"], r["ADID"])
        if key in self.addresses:
            raise MINotOK(f"Address {r['ADID']} already exists", code=CODE_EXISTS, field="ADID")
        self.addresses[key] = dict(r)
        return []

    def _CRS610MI_LstAddresses(self, r: dict[str, str]) -> list[dict[str, str]]:
        self._customer(r["CUNO"])
        return [
            dict(a)
            for (cuno, adrt, _), a in sorted(self.addresses.items())
            if cuno == r["CUNO"] and (not r.get("ADRT") or str(int(r["ADRT"])) == str(int(adrt)))
        ]

    # -- MMS200MI items and stock ------------------------------------------------------------

    def _item(self, itno: str) -> dict[str, str]:
        row = self.items.get(itno)
        if row is None:
            raise MINotOK(f"Item number {itno} does not exist", code=CODE_NOT_FOUND, field="ITNO")
        return row

    def _MMS200MI_Get(self, r: dict[str, str]) -> list[dict[str, str]]:
        row = self._item(r["ITNO"])
        return [{k: v for k, v in row.items() if k not in ("SAPR", "CUCS")}]

    _MMS200MI_GetItmBasic = _MMS200MI_Get

    def _MMS200MI_UpdItmBasic(self, r: dict[str, str]) -> list[dict[str, str]]:
        # [D] unverified transaction (see catalog.py): blank inputs leave a field as it is.
        row = self._item(r["ITNO"])
        row.update({k: v for k, v in r.items() if v and k not in ("ITNO", "CONO")})
        row["LMDT"] = self.today()
        return []

    def _MMS200MI_LstItmByChgDate(self, r: dict[str, str]) -> list[dict[str, str]]:
        low, high = r.get("FLMD") or "0", r.get("TLMD") or "99999999"
        return [
            {k: v for k, v in row.items() if k not in ("SAPR", "CUCS")}
            for _, row in sorted(self.items.items())
            if low <= row["LMDT"] <= high
        ]

    def _MMS200MI_GetItmPrice(self, r: dict[str, str]) -> list[dict[str, str]]:
        row = self._item(r["ITNO"])
        return [
            {
                "ITNO": row["ITNO"],
                "SAPR": row["SAPR"],
                "SACD": "20240101",
                "CUCS": row["CUCS"],
                "SPUN": row["SPUN"],
                "LMDT": row["LMDT"],
            }
        ]

    def _MMS200MI_GetItmWhsBal(self, r: dict[str, str]) -> list[dict[str, str]]:
        self._item(r["ITNO"])
        bal = self.balances.get((r["WHLO"], r["ITNO"]))
        if bal is None:
            raise MINotOK(
                f"Item {r['ITNO']} does not exist in warehouse {r['WHLO']}",
                code=CODE_NOT_FOUND,
                field="WHLO",
            )
        av = bal["STQT"] - bal["ALQT"]
        return [
            {
                "CONO": self.cono,
                "WHLO": r["WHLO"],
                "ITNO": r["ITNO"],
                **{k: _num(v) for k, v in bal.items()},
                "AV01": _num(av),
                "AVAL": _num(av),
                "AV02": _num(av),
                "IDDT": "20240110",
                "ODDT": self.today(),
                "FACI": self.facility,
            }
        ]

    # -- OIS100MI batch and customer orders ---------------------------------------------------

    def _batch(self, orno: str) -> BatchOrder:
        batch = self.batch_orders.get(orno)
        if batch is None:
            raise MINotOK(f"Order number {orno} does not exist", code=CODE_NOT_FOUND, field="ORNO")
        return batch

    def _OIS100MI_AddBatchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        orno = str(self._next("batch"))
        head = {"CONO": self.cono, "ORDT": self.today(), **r}
        self.batch_orders[orno] = BatchOrder(orno=orno, head=head)
        return [{"ORNO": orno}]

    def _OIS100MI_AddBatchLine(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._batch(r["ORNO"])
        if batch.stat == "90":
            raise MINotOK(f"Order {r['ORNO']} is already released", field="ORNO")
        ponr = str((len(batch.lines) + 1) * 10)
        batch.lines.append({**r, "PONR": ponr, "POSX": "0"})
        return [{"PONR": ponr, "POSX": "0", "ATNR": "0"}]

    def _OIS100MI_AddBatchAddress(self, r: dict[str, str]) -> list[dict[str, str]]:
        self._batch(r["ORNO"]).addresses[str(int(r["ADRT"]))] = dict(r)
        return []

    def _OIS100MI_AddBatchText(self, r: dict[str, str]) -> list[dict[str, str]]:
        self._batch(r["ORNO"]).texts.append(dict(r))
        return []

    def _OIS100MI_Confirm(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._batch(r["ORNO"])
        if batch.stat == "90":
            return [{"ORNO": batch.ornr, "STAT": "90"}]
        batch.errors = []
        cuno = batch.head.get("CUNO", "")
        whlo_default = batch.head.get("WHLO") or self.warehouses[0]
        if cuno not in self.customers:
            batch.stat = "15"
            batch.errors.append(self._err("15", cuno, f"Customer number {cuno} does not exist"))
        elif not batch.lines:
            batch.stat = "20"
            batch.errors.append(self._err("20", "", "The order has no lines"))
        else:
            for line in batch.lines:
                itno, whlo = line.get("ITNO", ""), line.get("WHLO") or whlo_default
                if itno not in self.items or (whlo, itno) not in self.balances:
                    batch.errors.append(
                        self._err(
                            "25", itno, f"Item number {itno} does not exist in warehouse {whlo}"
                        )
                    )
            if batch.errors:
                batch.stat = "25"
            elif cuno in self.credit_stopped:
                batch.stat = "30"
                batch.errors.append(self._err("30", cuno, f"Customer {cuno} is credit stopped"))
        if batch.errors:
            return [{"ORNO": batch.orno, "STAT": batch.stat}]
        orno = f"{self._next('orno'):010d}"
        batch.stat, batch.ornr = "90", orno
        lines = []
        total = Decimal(0)
        for line in batch.lines:
            itno = line["ITNO"]
            price = _d(line.get("SAPR") or self.items[itno]["SAPR"])
            qty = _d(line.get("ORQT") or "1")
            total += price * qty
            lines.append(
                {
                    "ORNO": orno,
                    "PONR": line["PONR"],
                    "POSX": "0",
                    "ITNO": itno,
                    "WHLO": line.get("WHLO") or whlo_default,
                    "ORQT": qty,
                    "SAPR": price,
                    "CUPO": line.get("CUPO", ""),
                }
            )
        charges = sum((_d(c["CRAM"]) for c in batch.charges), Decimal(0))
        total += charges
        head = {
            **batch.head,
            "ORNO": orno,
            "ORTP": batch.head.get("ORTP") or self.customers[cuno].get("ORTP", "WEB"),
            "FACI": batch.head.get("FACI") or self.facility,
            "WHLO": whlo_default,
            "CUCD": batch.head.get("CUCD") or "EUR",
            "NTAM": _num(total.quantize(Decimal("0.01"))),
            "TOPY": _num((total * Decimal("1.2")).quantize(Decimal("0.01"))),
        }
        self.orders[orno] = CustomerOrder(
            orno=orno,
            head=head,
            lines=lines,
            released_at=self.now(),
            batch_orno=batch.orno,
            charges=charges,
        )
        self._notify("released", self.orders[orno])
        return [{"ORNO": orno, "STAT": "90"}]

    def _notify(self, event: str, order: CustomerOrder) -> None:
        # Listeners run inside the lock and must only queue work (notify.BodNotifier does).
        for listener in list(self.listeners):
            listener(event, order)

    @staticmethod
    def _err(level: str, data: str, text: str) -> dict[str, str]:
        return {"LEVL": level, "MDTA": data, "TX60": text[:60], "MSID": "OI00025"}

    def _OIS100MI_DelBatchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._batch(r["ORNO"])
        if batch.stat == "90":
            raise MINotOK(f"Order {r['ORNO']} is already released", field="ORNO")
        del self.batch_orders[r["ORNO"]]
        return []

    def _OIS100MI_GetOrderNo(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._batch(r["ORNO"])
        if not batch.ornr:
            raise MINotOK(f"Order {r['ORNO']} is not released (status {batch.stat})", field="ORNO")
        return [{"ORNR": batch.ornr}]

    def _OIS100MI_LstErrMsgOrder(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [dict(e) for e in self._batch(r["ORNO"]).errors]

    def _batch_row(self, b: BatchOrder) -> dict[str, str]:
        low = high = ""
        if b.ornr:
            order = self.orders[b.ornr]
            low = high = order.status
        return {
            "ORNO": b.orno,
            "CUNO": b.head.get("CUNO", ""),
            "CUOR": b.head.get("CUOR", ""),
            "STAT": b.stat,
            "ORNR": b.ornr,
            "ORSL": low,
            "ORST": high,
        }

    def _OIS100MI_GetBatchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [self._batch_row(self._batch(r["ORNO"]))]

    def _OIS100MI_LstBatchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [
            self._batch_row(b)
            for _, b in sorted(self.batch_orders.items())
            if b.head.get("CUNO") == r["CUNO"]
        ]

    def _OIS100MI_LstBatchLine(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [
            {k: line.get(k, "") for k in ("ITNO", "ORQT", "WHLO", "CUPO", "SAPR", "PONR", "POSX")}
            for line in self._batch(r["ORNO"]).lines
        ]

    def _order(self, orno: str) -> CustomerOrder:
        order = self.orders.get(orno)
        if order is None:
            raise MINotOK(f"Order number {orno} does not exist", code=CODE_NOT_FOUND, field="ORNO")
        return order

    def _head_row(self, order: CustomerOrder) -> dict[str, str]:
        return {
            **{k: v for k, v in order.head.items() if k in DICTIONARY or k == "ORNO"},
            "STAT": order.status,
            "ORSL": min(line["ORST"] for line in self._line_rows(order)),
            "ORST": max(line["ORST"] for line in self._line_rows(order)),
            "DLIX": order.dlix or "0",
        }

    def _line_rows(self, order: CustomerOrder) -> list[dict[str, str]]:
        rows = []
        for line in order.lines:
            st = order.status
            qty = line["ORQT"]
            rows.append(
                {
                    "ORNO": order.orno,
                    "PONR": line["PONR"],
                    "POSX": "0",
                    "ITNO": line["ITNO"],
                    "WHLO": line["WHLO"],
                    "ORQT": _num(qty),
                    "ALQT": _num(qty if st[0] in "34" else 0),
                    "DLQT": _num(qty if st[0] in "67" else 0),
                    "IVQT": _num(qty if st[0] == "7" else 0),
                    "ORST": st,
                    "SAPR": _num(line["SAPR"]),
                    "NEPR": _num(line["SAPR"]),
                    "NLAM": _num((line["SAPR"] * qty).quantize(Decimal("0.01"))),
                }
            )
        return rows

    def _OIS100MI_GetHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [self._head_row(self._order(r["ORNO"]))]

    def _OIS100MI_LstHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        low, high = r.get("ORSL") or "00", r.get("ORST") or "99"
        rows = [
            self._head_row(o)
            for _, o in sorted(self.orders.items())
            if o.head.get("CUNO") == r["CUNO"]
        ]
        return [
            {k: row.get(k, "") for k in ("ORNO", "ORTP", "CUOR", "ORSL", "ORST", "CUNO")}
            for row in rows
            if low <= row["ORSL"] <= high
        ]

    def _OIS100MI_SearchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        key, _, value = r["SQRY"].partition(":")
        key, value = key.strip().upper(), value.strip().strip('"')
        return [
            {k: row.get(k, "") for k in ("ORNO", "CUOR", "CUNO", "ORSL", "ORST")}
            for row in (self._head_row(o) for _, o in sorted(self.orders.items()))
            if row.get(key) == value
        ]

    def _OIS100MI_LstLine(self, r: dict[str, str]) -> list[dict[str, str]]:
        return self._line_rows(self._order(r["ORNO"]))

    # -- deliveries, invoices, open items ------------------------------------------------------

    def _MWS411MI_LstDelLnByOrd(self, r: dict[str, str]) -> list[dict[str, str]]:
        order = self.orders.get(r.get("RIDN", ""))
        if order is None or not order.dlix:
            return []
        return [
            {
                "DLIX": order.dlix,
                "RIDN": order.orno,
                "RIDL": line["PONR"],
                "ITNO": line["ITNO"],
                "TRQT": _num(line["ORQT"]) if order.status[0] in "67" else "0",
                "PLQT": _num(line["ORQT"]),
            }
            for line in order.lines
            if not r.get("RIDL") or r["RIDL"] == line["PONR"]
        ]

    def _MWS410MI_GetHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        delivery = self.deliveries.get(r["DLIX"])
        if delivery is None:
            raise MINotOK(f"Delivery {r['DLIX']} does not exist", code=CODE_NOT_FOUND, field="DLIX")
        return [dict(delivery)]

    def _OIS350MI_LstInvHeadByCo(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [dict(i) for i in self.invoices.values() if i["ORNO"] == r["ORNO"]]

    def _ARS200MI_LstInvoices(self, r: dict[str, str]) -> list[dict[str, str]]:
        only_open = r.get("AAC0") == "1"
        out = []
        for inv in self.invoices.values():
            if inv["CUNO"] != r["CUNO"]:
                continue
            paid = self.orders[inv["ORNO"]].paid or inv["IVNO"] in self.settled
            if only_open and paid:
                continue
            out.append(
                {
                    "CUNO": inv["CUNO"],
                    "CINO": inv["IVNO"],
                    "INYR": inv["YEA4"],
                    "RECO": "9" if paid else "0",
                    "DUDT": inv["DUDT"],
                }
            )
        return out

    # -- OIS100MI order charges [D] -------------------------------------------------------

    def _OIS100MI_AddBatchCharge(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._batch(r["ORNO"])
        if batch.stat == "90":
            raise MINotOK(f"Order {r['ORNO']} is already released", field="ORNO")
        if r["CRID"] not in self.charge_codes:
            raise MINotOK(f"Charge {r['CRID']} does not exist", code=CODE_NOT_FOUND, field="CRID")
        # Like a plain table insert, a second identical charge is accepted: the client, not
        # the simulator, must make sure a resumed order does not add a charge twice.
        batch.charges.append(
            {
                "ORNO": batch.orno,
                "CRID": r["CRID"],
                "CRAM": _num(_d(r.get("CRAM"))),
                "CUCD": r.get("CUCD") or batch.head.get("CUCD", ""),
                "PONR": r.get("PONR", ""),
            }
        )
        return []

    def _OIS100MI_LstBatchCharge(self, r: dict[str, str]) -> list[dict[str, str]]:
        return [dict(c) for c in self._batch(r["ORNO"]).charges]

    # -- ARS040MI customer payments --------------------------------------------------------

    def _payment_batch(self, pbid: str) -> PaymentBatch:
        batch = self.payment_batches.get(pbid)
        if batch is None:
            raise MINotOK(f"Payment batch {pbid} does not exist", code=CODE_NOT_FOUND, field="PBID")
        return batch

    def _ARS040MI_AddBatchHead(self, r: dict[str, str]) -> list[dict[str, str]]:
        pbid = _num(_d(r["PBID"]))
        if pbid in self.payment_batches:
            raise MINotOK(f"Payment batch {pbid} already exists", code=CODE_EXISTS, field="PBID")
        self.payment_batches[pbid] = PaymentBatch(pbid=pbid, head=dict(r))
        return [{"PBID": pbid}]

    def _ARS040MI_AddBatchLine(self, r: dict[str, str]) -> list[dict[str, str]]:
        batch = self._payment_batch(_num(_d(r["PBID"])))
        trno = _num(_d(r["TRNO"]))
        if trno in batch.lines:
            raise MINotOK(
                f"Transaction {trno} of payment batch {batch.pbid} already exists",
                code=CODE_EXISTS,
                field="TRNO",
            )
        if batch.controlled:
            raise MINotOK(f"Payment batch {batch.pbid} is already updated", field="PBID")
        invoice = self.invoices.get(r["CINO"])
        if (
            invoice is None
            or invoice["YEA4"] != _num(_d(r["INYR"]))
            or invoice["CUNO"] != r["CUNO"]
        ):
            raise MINotOK(
                f"Invoice number {r['CINO']} year {r['INYR']} of customer {r['CUNO']} "
                "does not exist",
                code=CODE_NOT_FOUND,
                field="CINO",
            )
        if _d(r["PYAM"]) <= 0:
            raise MINotOK(f"Payment amount {r['PYAM']} is not valid", field="PYAM")
        if r.get("CUCD") and r["CUCD"] != invoice["CUCD"]:
            raise MINotOK(
                f"Currency {r['CUCD']} differs from the invoice's {invoice['CUCD']}",
                field="CUCD",
            )
        batch.lines[trno] = {**r, "PBID": batch.pbid, "TRNO": trno}
        return []

    def _ARS040MI_ControlBatch(self, r: dict[str, str]) -> list[dict[str, str]]:
        if not r.get("PBID"):
            raise MINotOK(
                "Payment batch must be entered",
                code=CODE_MANDATORY,
                field="PBID",
                kind="MandatoryInputFieldNotFound",
            )
        batch = self._payment_batch(_num(_d(r["PBID"])))
        if batch.controlled:
            return []  # [sim] controlling an updated batch again changes nothing
        if not batch.lines:
            raise MINotOK(f"Payment batch {batch.pbid} has no lines", field="PBID")
        for line in batch.lines.values():
            invoice = self.invoices[line["CINO"]]
            remaining = _d(invoice["RAFC"]) - _d(line["PYAM"])
            invoice["RAFC"] = _num(max(remaining, Decimal(0)))
            if remaining <= 0:
                self.settled.add(invoice["IVNO"])
                self.orders[invoice["ORNO"]].paid = True
        batch.controlled = True
        return []

    def payments_of(self, ivno: str) -> list[dict[str, str]]:
        """Payment lines (any batch) recorded against one invoice, for tests."""
        return [
            line
            for batch in self.payment_batches.values()
            for line in batch.lines.values()
            if line["CINO"] == ivno
        ]

    # -- progression ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Move released orders along, by the simulated time since their release."""
        with self.lock:
            now = self.now()
            for order in self.orders.values():
                age = now - order.released_at
                p = self.progress
                if order.status == "22" and age >= p["allocate"]:
                    for line in order.lines:
                        self.balances[(line["WHLO"], line["ITNO"])]["ALQT"] += line["ORQT"]
                    order.status = "33"
                    self._notify("status", order)
                if order.status == "33" and age >= p["pick"]:
                    order.dlix = str(self._next("dlix"))
                    order.tracking = f"SIM{self.random.randint(10**9, 10**10 - 1)}"
                    self.deliveries[order.dlix] = {
                        "DLIX": order.dlix,
                        "PGRS": "05",
                        "PIST": "10",
                        "CONN": "0",
                        "IVNO": "0",
                        "MODL": order.head.get("MODL") or "PST",
                        "TRDT": "0",
                        "RIDN": order.orno,
                        "ETRN": "",
                    }
                    order.status = "44"
                    self._notify("status", order)
                if order.status == "44" and age >= p["deliver"]:
                    for line in order.lines:
                        bal = self.balances[(line["WHLO"], line["ITNO"])]
                        bal["ALQT"] -= line["ORQT"]
                        bal["STQT"] -= line["ORQT"]
                    self.deliveries[order.dlix].update(
                        PGRS="60", PIST="90", TRDT=self.today(), ETRN=order.tracking
                    )
                    order.status = "66"
                    self._notify("status", order)
                if order.status == "66" and age >= p["invoice"]:
                    order.ivno = str(self._next("ivno"))
                    net = sum((line["SAPR"] * line["ORQT"] for line in order.lines), Decimal(0))
                    net += order.charges
                    net = net.quantize(Decimal("0.01"))
                    gross = (net * Decimal("1.2")).quantize(Decimal("0.01"))
                    self.invoices[order.ivno] = {
                        "ORNO": order.orno,
                        "IVNO": order.ivno,
                        "YEA4": self.today()[:4],
                        "IVDT": self.today(),
                        "DLIX": order.dlix,
                        "CUNO": order.head.get("CUNO", ""),
                        "AMT1": _num(gross),
                        "AMT2": _num(net),
                        "CUCD": order.head.get("CUCD", "EUR"),
                        "DUDT": (self.epoch + timedelta(seconds=now, days=30)).strftime("%Y%m%d"),
                        "EXIN": f"INV-{order.ivno}",
                        "RAFC": _num(gross),
                    }
                    self.deliveries[order.dlix].update(PGRS="70", IVNO=order.ivno)
                    order.status = "77"
                    self._notify("status", order)
                if order.status == "77" and not order.paid and age >= p["pay"]:
                    order.paid = True
                    self.invoices[order.ivno]["RAFC"] = "0"
                    self._notify("paid", order)

    # -- helpers for tests ---------------------------------------------------------------------

    def batch_orders_for(self, cuor: str) -> list[BatchOrder]:
        return [b for b in self.batch_orders.values() if b.head.get("CUOR") == cuor]

    def orders_for(self, cuor: str) -> list[CustomerOrder]:
        return [o for o in self.orders.values() if o.head.get("CUOR") == cuor]

    def writes(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.calls
            if not c["transaction"].startswith(("Get", "Lst", "Search", "Sel"))
        ]
