"""Target field catalog of every MI transaction the connector uses.

Types and lengths come from M3's metadata as captured in GaryWayneSmith/M3H5 (reference S11:
`<PROG>/<TX>Response.cs` field types and lengths, `<PROG>Resource.cs` required inputs). Input
fields share M3's dictionary with the outputs of the same name, so one table gives both.
Entries marked "[D]" carry a length taken from M3's usual dictionary, not read from S11:
confirm with MRS001MI/LstFields on the tenant (reference §3.6). A tenant may add fields; fields
not listed here are passed through unchecked.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.catalog import Catalog, FieldType, TargetField
from connectors.errors import DataError

SYSTEM = "infor_m3"

_TYPES = {"A": FieldType.STRING, "N": FieldType.NUMBER, "D": FieldType.DATE}

# name: (M3 type, length, decimals, description)
DICTIONARY: dict[str, tuple[str, int, int | None, str]] = {
    "AAC0": ("N", 1, None, "Only open items"),
    "ADID": ("A", 6, None, "Address id"),
    "ADRT": ("N", 2, None, "Address type"),
    "ALQT": ("N", 15, 6, "Allocated quantity"),
    "ALUN": ("A", 3, None, "Alternate unit [D]"),
    "AMT1": ("N", 17, 2, "Invoice amount, gross"),
    "AMT2": ("N", 17, 2, "Invoice amount, net"),
    "ATNR": ("N", 17, None, "Attribute number"),
    "AV01": ("N", 15, 6, "Allocatable net"),
    "BOPE": ("A", 2, None, "Batch payment type [D]"),
    "AV02": ("N", 15, 6, "Available inventory"),
    "AVAL": ("N", 15, 6, "Allocatable on-hand balance"),
    "CINO": ("A", 15, None, "Invoice number (AR)"),
    "CONN": ("N", 7, None, "Shipment"),
    "CONO": ("N", 3, None, "Company"),
    "CRAM": ("N", 15, 2, "Charge amount [D]"),
    "CRID": ("A", 6, None, "Charge [D]"),
    "CSCD": ("A", 3, None, "Country"),
    "CTYP": ("N", 1, None, "Confirm type [D]"),
    "CUA1": ("A", 36, None, "Address line 1"),
    "CUA2": ("A", 36, None, "Address line 2"),
    "CUA3": ("A", 36, None, "Address line 3"),
    "CUA4": ("A", 36, None, "Address line 4"),
    "CUCD": ("A", 3, None, "Currency"),
    "CUCS": ("A", 3, None, "Currency of sales price [D]"),
    "CUNM": ("A", 36, None, "Customer name"),
    "CUNO": ("A", 10, None, "Customer number"),
    "CUOR": ("A", 20, None, "Customer's order number"),
    "CUPO": ("N", 7, None, "Customer's order line"),
    "CUTM": ("A", 10, None, "Customer template"),
    "CUTP": ("N", 1, None, "Customer type"),
    "DIP1": ("N", 5, 2, "Discount percent 1 [D]"),
    "DIVI": ("A", 3, None, "Division"),
    "DLIX": ("N", 11, None, "Delivery number"),
    "DLQT": ("N", 15, 6, "Delivered quantity"),
    "DUDT": ("D", 8, None, "Due date"),
    "DWDT": ("D", 8, None, "Requested delivery date (line)"),
    "ECAR": ("A", 2, None, "Area/state"),
    "ETRN": ("A", 30, None, "Tracking number [U: field not verified]"),
    "EXIN": ("A", 24, None, "Extended invoice number"),
    "FACI": ("A", 3, None, "Facility"),
    "FLMD": ("D", 8, None, "From change date"),
    "FUDS": ("A", 60, None, "Description 2"),
    "GRWE": ("N", 9, 6, "Gross weight"),
    "IDDT": ("D", 8, None, "Last receipt date"),
    "INYR": ("N", 4, None, "Invoice year"),
    "ITCL": ("A", 5, None, "Product group"),
    "ITDS": ("A", 30, None, "Item name"),
    "ITGR": ("A", 5, None, "Item group"),
    "ITNO": ("A", 15, None, "Item number"),
    "ITTY": ("A", 3, None, "Item type"),
    "IVDT": ("D", 8, None, "Invoice date"),
    "IVNO": ("N", 9, None, "Invoice number"),
    "IVQT": ("N", 15, 6, "Invoiced quantity"),
    "LEVL": ("N", 2, None, "Batch status level"),
    "LMDT": ("D", 8, None, "Change date"),
    "LNCD": ("A", 2, None, "Language"),
    "LPDT": ("D", 8, None, "Payment date"),
    "MAIL": ("A", 50, None, "E-mail address"),
    "MDTA": ("A", 60, None, "Message data [D]"),
    "MODL": ("A", 3, None, "Delivery method"),
    "MSID": ("A", 7, None, "Message id"),
    "NEPR": ("N", 17, 6, "Net price"),
    "NEWE": ("N", 9, 6, "Net weight"),
    "NLAM": ("N", 17, 2, "Net line amount"),
    "NTAM": ("N", 15, 2, "Net order amount"),
    "ODDT": ("D", 8, None, "Last issue date"),
    "OREF": ("A", 30, None, "Our reference"),
    "ORDT": ("D", 8, None, "Order date"),
    "ORNO": ("A", 10, None, "Order number"),
    "ORNR": ("A", 10, None, "Customer order number (real)"),
    "ORQT": ("N", 15, 6, "Ordered quantity"),
    "ORSL": ("A", 2, None, "Lowest line status"),
    "ORST": ("A", 2, None, "Highest line status"),
    "ORTP": ("A", 3, None, "Order type"),
    "PARM": ("A", 60, None, "Text line [D]"),
    "PBID": ("N", 10, None, "Payment batch"),
    "PGRS": ("A", 2, None, "Delivery progress status"),
    "PHNO": ("A", 16, None, "Telephone number"),
    "PIST": ("A", 2, None, "Packing status"),
    "PLQT": ("N", 15, 6, "Quantity on picking lists"),
    "PONO": ("A", 10, None, "Postal code"),
    "PONR": ("N", 5, None, "Order line number"),
    "POSX": ("N", 2, None, "Line suffix"),
    "PYAM": ("N", 15, 2, "Payment amount [D]"),
    "PYCD": ("A", 2, None, "Payment method"),
    "PYNO": ("A", 10, None, "Payer"),
    "QUQT": ("N", 15, 6, "Quantity in inspection"),
    "RAFC": ("N", 17, 2, "Remaining amount, foreign currency"),
    "RECO": ("N", 1, None, "Reconciliation code (9 = paid)"),
    "REQT": ("N", 15, 6, "Reserved quantity"),
    "RIDL": ("N", 6, None, "Reference order line"),
    "RIDN": ("A", 10, None, "Reference order number"),
    "RJQT": ("N", 15, 6, "Rejected quantity"),
    "RLDT": ("D", 8, None, "Requested delivery date"),
    "RORC": ("N", 1, None, "Reference order category"),
    "SACD": ("D", 8, None, "Sales price valid from"),
    "SALE": ("N", 1, None, "Sales item"),
    "SAPR": ("N", 17, 6, "Sales price"),
    "SPUN": ("A", 3, None, "Sales price unit"),
    "SQRY": ("A", 1024, None, "Search query"),
    "STAT": ("A", 2, None, "Status"),
    "STQT": ("N", 15, 6, "On-hand balance, approved"),
    "TEDL": ("A", 3, None, "Delivery terms"),
    "TEPY": ("A", 3, None, "Payment terms"),
    "TLMD": ("D", 8, None, "To change date"),
    "TOPY": ("N", 16, 2, "Order total"),
    "TOWN": ("A", 20, None, "City"),
    "TRDT": ("D", 8, None, "Transaction date"),
    "TRNO": ("N", 7, None, "Transaction number [D]"),
    "TRQT": ("N", 15, 6, "Transaction quantity"),
    "TX60": ("A", 60, None, "Error text"),
    "TYPE": ("N", 1, None, "Text type: 1 head, 2 line"),
    "TYTR": ("N", 1, None, "Text position: 1 pre, 2 post"),
    "UNMS": ("A", 3, None, "Basic unit of measure"),
    "VRNO": ("A", 16, None, "VAT registration number"),
    "WHLO": ("A", 3, None, "Warehouse"),
    "YEA4": ("N", 4, None, "Year"),
    "YREF": ("A", 30, None, "Your reference"),
}


@dataclass(frozen=True)
class Transaction:
    program: str
    name: str
    inputs: Catalog
    outputs: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.program}/{self.name}"


def _field(spec: str) -> TargetField:
    name, required = spec.rstrip("*"), spec.endswith("*")
    m3_type, length, decimals, description = DICTIONARY[name]
    return TargetField(
        name=name,
        type=_TYPES[m3_type],
        max_length=length,
        required=required,
        description=description,
        decimals=decimals,
    )


def _tx(
    program: str, name: str, inputs: str, outputs: str = "", description: str = ""
) -> Transaction:
    return Transaction(
        program=program,
        name=name,
        inputs=Catalog(
            system=SYSTEM,
            operation=f"{program}.{name}",
            fields=tuple(_field(s) for s in inputs.split()),
            description=description,
        ),
        outputs=tuple(outputs.split()),
    )


_ADDRESS = "CUNM CUA1 CUA2 CUA3 CUA4 PONO TOWN CSCD ECAR PHNO VRNO YREF"

TRANSACTIONS: dict[str, Transaction] = {
    t.key: t
    for t in (
        # Customers
        _tx("CRS610MI", "SearchCustomer", "SQRY*", "CUNO CUNM STAT MAIL", "Search customers"),
        _tx(
            "CRS610MI",
            "LstByNumber",
            "CONO CUNO",
            "CUNO CUNM STAT MAIL CUCD ORTP WHLO MODL TEDL TEPY",
        ),
        _tx(
            "CRS610MI",
            "Add",
            "CUTM* CUNM* CUA1* CUNO CUA2 CUA3 CUA4 PONO TOWN CSCD ECAR PHNO MAIL LNCD CUTP"
            " STAT YREF",
            "CUNO",
            "Create a customer from a template",
        ),
        _tx("CRS610MI", "GetBasicData", "CUNO*", f"CUNO {_ADDRESS} MAIL STAT CUCD LNCD LMDT"),
        _tx(
            "CRS610MI",
            "ChgBasicData",
            "CUNO* CUNM CUA1 CUA2 CUA3 CUA4 PONO TOWN CSCD ECAR PHNO MAIL LNCD CUTP STAT YREF",
            "CUNO",
        ),
        _tx(
            "CRS610MI",
            "AddAddress",
            "CUNO* ADRT* ADID* CUA1* PONO* CSCD* TOWN* CUNM CUA2 CUA3 CUA4 ECAR PHNO YREF",
        ),
        _tx("CRS610MI", "LstAddresses", "CUNO* ADRT", f"CUNO ADRT ADID {_ADDRESS}"),
        # Items, prices, stock
        _tx(
            "MMS200MI",
            "Get",
            "ITNO* LNCD",
            "ITNO STAT ITDS FUDS UNMS ITGR ITCL ITTY NEWE GRWE SALE SPUN LMDT",
        ),
        _tx(
            "MMS200MI",
            "GetItmBasic",
            "ITNO* CONO",
            "ITNO STAT ITDS FUDS UNMS ITGR ITCL ITTY NEWE GRWE LMDT",
        ),
        _tx("MMS200MI", "LstItmByChgDate", "FLMD TLMD", "ITNO STAT ITDS FUDS UNMS LMDT"),
        # [D] UNVERIFIED item update: not in the reference pack (§4.3 has reads only); the
        # name is the option M3Settings.item_update_transaction, inputs from M3's dictionary.
        _tx(
            "MMS200MI",
            "UpdItmBasic",
            "ITNO* CONO ITDS FUDS STAT UNMS NEWE GRWE",
            "",
            "Change an item's basic data [D: unverified transaction]",
        ),
        _tx("MMS200MI", "GetItmPrice", "ITNO*", "ITNO SAPR SACD CUCS SPUN LMDT"),
        _tx(
            "MMS200MI",
            "GetItmWhsBal",
            "WHLO* ITNO*",
            "CONO WHLO ITNO STQT QUQT RJQT ALQT AV01 AVAL AV02 PLQT ORQT REQT IDDT ODDT FACI",
        ),
        # Orders (batch orders)
        _tx(
            "OIS100MI",
            "AddBatchHead",
            "CUNO* CONO ORTP FACI WHLO CUOR ORDT RLDT CUCD MODL TEDL TEPY ADID YREF OREF PYNO PYCD",
            "ORNO",
            "Create a batch (temporary) order head",
        ),
        _tx(
            "OIS100MI",
            "AddBatchLine",
            "ORNO* ITNO* ORQT WHLO SAPR DIP1 ALUN DWDT CUOR CUPO ITDS",
            "PONR POSX ATNR",
        ),
        _tx("OIS100MI", "AddBatchAddress", f"ORNO* ADRT* ADID MODL TEDL {_ADDRESS}"),
        _tx("OIS100MI", "AddBatchText", "ORNO* TYPE* TYTR* PARM* PONR"),
        _tx("OIS100MI", "Confirm", "ORNO* CTYP", "ORNO STAT"),
        _tx("OIS100MI", "GetOrderNo", "ORNO*", "ORNR"),
        _tx("OIS100MI", "DelBatchHead", "ORNO*"),
        _tx("OIS100MI", "LstBatchLine", "ORNO*", "ITNO ITDS ORQT WHLO CUPO SAPR PONR POSX"),
        _tx("OIS100MI", "LstErrMsgOrder", "ORNO*", "LEVL MDTA TX60 MSID"),
        _tx("OIS100MI", "GetBatchHead", "ORNO*", "ORNO STAT ORSL ORST CUOR CUNO"),
        _tx("OIS100MI", "LstBatchHead", "CUNO* ORSL ORST", "ORNO CUOR STAT ORNR CUNO"),
        _tx(
            "OIS100MI",
            "GetHead",
            "ORNO*",
            "ORNO ORTP ORDT STAT FACI CUOR CUNO WHLO ORSL ORST NTAM TOPY CUCD RLDT",
        ),
        _tx("OIS100MI", "LstHead", "CUNO* ORSL ORST", "ORNO ORTP CUOR ORSL ORST CUNO"),
        _tx("OIS100MI", "SearchHead", "SQRY*", "ORNO CUOR CUNO ORSL ORST"),
        _tx(
            "OIS100MI",
            "LstLine",
            "ORNO*",
            "ORNO PONR POSX ITNO ORQT ALQT DLQT IVQT ORST SAPR NEPR NLAM",
        ),
        # Deliveries
        _tx("MWS411MI", "LstDelLnByOrd", "RORC RIDN RIDL", "DLIX RIDN RIDL ITNO TRQT PLQT"),
        _tx("MWS410MI", "GetHead", "DLIX* CONO", "DLIX PGRS PIST CONN IVNO MODL TRDT RIDN ETRN"),
        # Invoices, open items
        _tx(
            "OIS350MI",
            "LstInvHeadByCo",
            "ORNO*",
            "IVNO YEA4 IVDT DLIX CUNO AMT1 AMT2 CUCD DUDT EXIN RAFC",
        ),
        _tx("ARS200MI", "LstInvoices", "CUNO* AAC0", "CINO INYR RECO DUDT CUNO"),
        # Order charges on a batch order. [D]: the transaction names and the CRID/CRAM fields
        # are not in the reference pack (§4.1 lists neither); names are configurable
        # (M3Settings.charge_transaction / charge_list_transaction).
        _tx(
            "OIS100MI",
            "AddBatchCharge",
            "ORNO* CRID* CRAM CUCD PONR",
            "",
            "Add a charge (shipping, handling) to a batch order [D]",
        ),
        _tx("OIS100MI", "LstBatchCharge", "ORNO*", "ORNO CRID CRAM CUCD PONR", "[D]"),
        # Customer payments (reference §4.5, inputs and required flags from S11 ARS040MI 14.x;
        # PBID N10 from S11 AddBatchHeadResponse; BOPE, TRNO and PYAM lengths are [D]).
        _tx(
            "ARS040MI",
            "AddBatchHead",
            "PBID* BOPE* CONO DIVI",
            "PBID",
            "Create a customer payment batch",
        ),
        _tx(
            "ARS040MI",
            "AddBatchLine",
            "PBID* TRNO* CINO* INYR* CUNO* PYAM* CONO DIVI PYNO CUCD LPDT",
            "",
            "Add a payment of one invoice to a payment batch",
        ),
        _tx("ARS040MI", "ControlBatch", "PBID CONO DIVI", "", "Check and post a payment batch"),
    )
}


def transaction(program: str, name: str) -> Transaction | None:
    return TRANSACTIONS.get(f"{program}/{name}")


def catalogs() -> tuple[Catalog, ...]:
    """Every write/read input catalog, for the mapping editor."""
    return tuple(t.inputs for t in TRANSACTIONS.values())


def render_value(value: Any) -> str:
    """A Python value as M3 input text: dates yyyyMMdd, decimals with '.', no exponent."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, float):
        return render_value(Decimal(repr(value)))
    return str(value).strip()


def check_input(program: str, name: str, record: dict[str, Any]) -> dict[str, str]:
    """Render a record and check it against the catalog before sending it.

    Raises DataError naming the transaction, field and value: the same check M3 would make,
    without spending a call (and, for a multi-call order, before anything is written).
    """
    rendered = {k: render_value(v) for k, v in record.items() if v is not None}
    rendered = {k: v for k, v in rendered.items() if v != ""}
    tx = transaction(program, name)
    if tx is None:
        return rendered
    for fld in tx.inputs.fields:
        value = rendered.get(fld.name)
        if value is None:
            if fld.required:
                raise DataError(
                    f"M3 {program}/{name}: mandatory field {fld.name} ({fld.description}) is "
                    "missing",
                    field=fld.name,
                )
            continue
        if fld.type is FieldType.NUMBER:
            try:
                Decimal(value)
            except InvalidOperation:
                raise DataError(
                    f"M3 {program}/{name}: field {fld.name} ({fld.description}) value "
                    f"{value!r} is not a number",
                    field=fld.name,
                    value=value,
                ) from None
            digits = value.lstrip("-").replace(".", "")
            if fld.max_length and len(digits) > fld.max_length:
                raise _too_long(program, name, fld, value)
        elif fld.type is FieldType.DATE:
            if not (len(value) == 8 and value.isdigit()):
                raise DataError(
                    f"M3 {program}/{name}: field {fld.name} value {value!r} is not a date "
                    "(yyyyMMdd)",
                    field=fld.name,
                    value=value,
                )
        elif fld.max_length and len(value) > fld.max_length:
            raise _too_long(program, name, fld, value)
    return rendered


def _too_long(program: str, name: str, fld: TargetField, value: str) -> DataError:
    return DataError(
        f"M3 {program}/{name}: field {fld.name} ({fld.description}) value {value!r} is "
        f"{len(value)} long, M3 allows {fld.max_length}",
        field=fld.name,
        value=value,
    )


def convert_output(record: dict[str, str]) -> dict[str, Any]:
    """Typed values for the fields the dictionary knows (N → Decimal, D → date); others trimmed.

    Blank numbers and the zero date ("0", "00000000") become None.
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        spec = DICTIONARY.get(key)
        text = value.strip() if isinstance(value, str) else value
        if spec is None or not isinstance(text, str):
            out[key] = text
        elif spec[0] == "N":
            try:
                out[key] = Decimal(text) if text else None
            except InvalidOperation:
                out[key] = text
        elif spec[0] == "D":
            out[key] = parse_m3_date(text)
        else:
            out[key] = text
    return out


def parse_m3_date(text: str) -> date | None:
    text = (text or "").strip()
    if not text or set(text) <= {"0"}:
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
