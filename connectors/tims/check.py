"""What the TIMS credentials may do, for the connection test (ASSUMED interface, as all of
connectors/tims: the operations are the profile's, see profile.py).

Auth first (a token for client credentials), then one cheap read per list operation the flows
use: one record, first page. 2xx = may; 401/403 = may not; 404 = the installation has no such
route (a profile path to fix). Writes are never tried by a test: listed as needed, not probed.
TIMS does not list what a key is granted, so "more than needed" cannot be told for TIMS.
"""

import time

from connectors.errors import AuthError, NotFoundError, PermanentError, TransientError
from connectors.permissions import PermissionRow, Verdict, needed_by
from connectors.tims.client import TimsClient
from connectors.tims.profile import Operation

Op = Operation
# What each flow uses (connectors.tims.client via integrations.flows.erp). Item and order
# reads by key are probed through their list operation (same resource, no key needed).
FLOW_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "order_to_cash": {
        "reads": (Op.CUSTOMER_LIST, Op.ITEM_LIST, Op.INVENTORY_LIST, Op.SALES_ORDER_LIST),
        "writes": (Op.CUSTOMER_CREATE, Op.SALES_ORDER_CREATE),
    },
    "status_back": {
        "reads": (Op.SALES_ORDER_LIST, Op.SHIPMENT_LIST, Op.INVOICE_LIST, Op.PAYMENT_LIST),
        "writes": (Op.PAYMENT_CREATE,),
    },
    "inventory": {"reads": (Op.INVENTORY_LIST, Op.ITEM_LIST), "writes": ()},
    "customers": {
        "reads": (Op.CUSTOMER_LIST,),
        "writes": (Op.CUSTOMER_CREATE, Op.CUSTOMER_UPDATE, Op.SHIP_TO_CREATE),
    },
    "products": {"reads": (Op.ITEM_LIST,), "writes": (Op.ITEM_CREATE, Op.ITEM_UPDATE)},
}


def token_time(client: TimsClient) -> float | None:
    """Milliseconds to get a token (None when the profile authenticates otherwise)."""
    if client.token is None:
        return None
    started = time.perf_counter()
    client.token.access_token()
    return round((time.perf_counter() - started) * 1000, 1)


def check_permissions(
    client: TimsClient, *, flows: list[str]
) -> tuple[list[PermissionRow], float | None]:
    """One row per operation the flows need, and the first answered read's round trip (ms).

    TransientError (TIMS not answering) is raised: the test as a whole failed. A 401 on the
    first read means the credentials are refused: AuthError is raised too.
    """
    profile = client.profile
    rows: list[PermissionRow] = []
    first: float | None = None
    answered = False
    for name, users in sorted(needed_by(FLOW_NEEDS, flows).items()):
        operation = Operation(name)
        method = profile.method(operation)
        label = f"{method} {profile.path_template(operation)}"
        if method != "GET":
            rows.append(PermissionRow(label, Verdict.NOT_PROBED, tuple(users), "a write"))
            continue
        params = {profile.page_size_param: 1}
        if profile.paging.value == "page":
            params[profile.page_param] = 1
        started = time.perf_counter()
        try:
            client.request("GET", profile.path(operation), params=params, what=f"TIMS {label}")
            verdict, detail = Verdict.MAY, "answered"
            answered = True
        except TransientError:
            raise
        except AuthError as error:
            if error.status_code == 401 and not answered:
                raise  # the credentials themselves, not one permission
            verdict, detail = Verdict.MAY_NOT, str(error)
        except NotFoundError as error:
            verdict, detail = Verdict.MAY_NOT, f"no such route; fix profile.paths: {error}"
        except PermanentError as error:
            verdict, detail = Verdict.MAY_NOT, str(error)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        if verdict is Verdict.MAY and first is None:
            first = elapsed
        rows.append(PermissionRow(label, verdict, tuple(users), detail[:300]))
    return rows, first
