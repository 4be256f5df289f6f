"""What the M3 credentials may do, for the connection test.

A token first (cloud), then every read transaction the flows use, called for one row at most
with its mandatory keys set to a value no record has (PROBE_TEXT; the client checks mandatory
fields before sending, so an empty input would never reach M3). M3 checks a user's MI
security before it looks the key up, so rows, or "record does not exist", means the user may
run it;
"not authorized" (codes XAU…, reference §3.4: M3 says so as NOK inside HTTP 200) means it may
not. Writes are never tried by a test: they are listed as needed, not probed. M3 does not list
what a user is granted, so "more than needed" cannot be told for M3.
"""

import time
from typing import Any

from connectors.catalog import FieldType
from connectors.errors import AuthError, ConnectorError, PermanentError, TransientError
from connectors.infor.catalog import transaction as catalog_transaction
from connectors.infor.client import M3Client
from connectors.permissions import PermissionRow, Verdict, needed_by

# What each flow runs in M3 (connectors.infor.operations and orders).
FLOW_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "order_to_cash": {
        "reads": (
            "CRS610MI/GetBasicData",
            "MMS200MI/GetItmBasic",
            "MMS200MI/GetItmWhsBal",
            "OIS100MI/LstBatchHead",
            "OIS100MI/LstBatchLine",
            "OIS100MI/LstHead",
            "OIS100MI/LstErrMsgOrder",
        ),
        "writes": (
            "CRS610MI/Add",
            "OIS100MI/AddBatchHead",
            "OIS100MI/AddBatchAddress",
            "OIS100MI/AddBatchLine",
            "OIS100MI/AddBatchText",
            "OIS100MI/Confirm",
            "OIS100MI/DelBatchHead",
        ),
    },
    "status_back": {
        "reads": (
            "OIS100MI/GetHead",
            "OIS100MI/LstLine",
            "MWS410MI/GetHead",
            "OIS350MI/LstInvHeadByCo",
        ),
        "writes": (),
    },
    "inventory": {"reads": ("MMS200MI/GetItmWhsBal",), "writes": ()},
    "customers": {
        "reads": ("CRS610MI/GetBasicData", "CRS610MI/LstAddresses"),
        "writes": ("CRS610MI/Add", "CRS610MI/ChgBasicData", "CRS610MI/AddAddress"),
    },
    "products": {"reads": ("MMS200MI/GetItmBasic",), "writes": ()},
}
# The key a probe asks for: valid for the field's type, matching no real record.
PROBE_TEXT = "ZZSHOPSYNCTEST"
PROBE_NUMBER = "0"
PROBE_DATE = "19000101"
# MI error codes that mean "this user may not" (XAU0008 "Not authorized for company").
REFUSED_CODE_PREFIX = "XAU"


def refused(error: ConnectorError) -> bool:
    code = str(getattr(error, "code", "") or "")
    return code.startswith(REFUSED_CODE_PREFIX) or "not authori" in str(error).lower()


def probe_input(program: str, transaction: str) -> dict[str, str]:
    """The transaction's mandatory inputs, each with a harmless value of its type."""
    tx = catalog_transaction(program, transaction)
    record: dict[str, str] = {}
    for fld in tx.inputs.fields if tx is not None else ():
        if not fld.required:
            continue
        if fld.type is FieldType.NUMBER or fld.type is FieldType.INTEGER:
            record[fld.name] = PROBE_NUMBER
        elif fld.type is FieldType.DATE:
            record[fld.name] = PROBE_DATE
        else:
            record[fld.name] = PROBE_TEXT[: fld.max_length or None]
    return record


def token_time(client: M3Client) -> float | None:
    """Milliseconds to get a token (None on-premises, where there is none)."""
    if client.tokens is None:
        return None
    started = time.perf_counter()
    client.tokens.access_token()
    return round((time.perf_counter() - started) * 1000, 1)


def check_permissions(
    client: M3Client, *, flows: list[str]
) -> tuple[list[PermissionRow], float | None]:
    """One row per operation the flows need, and the first answered read's round trip (ms).

    AuthError (the credentials themselves) and TransientError (M3 not answering) are raised:
    the test as a whole failed, not one permission.
    """
    rows: list[PermissionRow] = []
    first: float | None = None
    for operation, users in sorted(needed_by(FLOW_NEEDS, flows).items()):
        program, _, transaction = operation.partition("/")
        is_read = any(operation in FLOW_NEEDS[f]["reads"] for f in users)
        if not is_read:
            rows.append(PermissionRow(operation, Verdict.NOT_PROBED, tuple(users), "a write"))
            continue
        started = time.perf_counter()
        try:
            client.execute(program, transaction, probe_input(program, transaction), maxrecs=1)
            verdict, detail = Verdict.MAY, "answered"
        except (AuthError, TransientError):
            raise
        except PermanentError as error:
            if refused(error):
                verdict, detail = Verdict.MAY_NOT, str(error)
            elif "NotFound" in str(getattr(error, "error_type", "")):
                verdict, detail = Verdict.MAY_NOT, f"M3 does not offer it: {error}"
            else:
                verdict, detail = Verdict.MAY, f"answered: {error}"
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        if verdict is Verdict.MAY and first is None:
            first = elapsed
        rows.append(PermissionRow(operation, verdict, tuple(users), _short(detail)))
    return rows, first


def _short(text: Any, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
