"""Connection check: what the key may do (`GET /api/`) against what the flows need.

PrestaShop lists, per resource, the methods the key is granted as get/put/post/patch/delete/
head attributes (reference §1). A missing permission breaks a flow; an unneeded one is a risk
worth removing (least privilege), so both are reported.
"""

from dataclasses import dataclass, field

from connectors.errors import ConnectorError, DataError
from connectors.prestashop.client import PrestaShopClient
from connectors.prestashop.xml import xml_to_wire

READ = ("GET",)

# What each flow needs: resource -> methods. PATCH is needed on 8.0+ only (else PUT is used).
FLOW_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "order_to_cash": {
        "orders": READ,
        "order_details": READ,
        "customers": READ,
        "addresses": READ,
        "currencies": READ,
        "countries": READ,
        "carriers": READ,
        "order_states": READ,
        "order_payments": READ,
    },
    "status_back": {
        "orders": READ,
        "order_histories": ("GET", "POST"),
        "order_carriers": ("GET", "PUT"),
        "order_payments": ("GET", "POST"),
        "currencies": READ,
    },
    "inventory": {
        "stock_availables": ("GET", "PUT"),
        "products": READ,
        "combinations": READ,
    },
    "customers": {"customers": ("GET", "PUT", "POST"), "addresses": ("GET", "PUT", "POST")},
    "products": {"products": READ, "combinations": READ, "languages": READ},
}


@dataclass
class CheckResult:
    ok: bool
    version: str = ""
    missing: list[str] = field(default_factory=list)  # "POST order_histories"
    unneeded: list[str] = field(default_factory=list)
    message: str = ""


def needs_for(flows: list[str] | None = None, *, patch: bool = False) -> dict[str, set[str]]:
    """The union of what the named flows (default: all) need; PATCH where the shop has it."""
    needed: dict[str, set[str]] = {}
    for flow in flows or list(FLOW_NEEDS):
        for resource_name, methods in FLOW_NEEDS[flow].items():
            wanted = set(methods)
            if patch and "PUT" in wanted:
                wanted.add("PATCH")
            needed.setdefault(resource_name, set()).update(wanted)
    return needed


def check_connection(client: PrestaShopClient, *, flows: list[str] | None = None) -> CheckResult:
    """Call `GET /api/` and compare the key's permissions with what `flows` need."""
    try:
        # XML: `/api/?io_format=JSON` answered 500 on 8.1.7 (reference §6 bug 8).
        response = client.request("GET", "", what="GET the API root")
        client.note_version(response)
        data = xml_to_wire(response.content, what="GET /api/")
    except ConnectorError as error:
        return CheckResult(ok=False, message=f"PrestaShop did not answer the check: {error}")
    granted_map = data.get("api")
    if not isinstance(granted_map, dict):
        raise DataError("GET /api/ did not list the key's resources", field="api")
    version = client.version
    needed = needs_for(flows, patch=bool(version and version[0] >= 8))
    granted = {
        (method, name)
        for name, methods in granted_map.items()
        for method, ok in methods.items()
        if ok
    }
    missing = sorted(
        f"{method} {name}"
        for name, methods in needed.items()
        for method in methods
        if (method, name) not in granted
    )
    unneeded = sorted(
        f"{method} {name}"
        for method, name in granted
        if method not in ("HEAD",) and method not in needed.get(name, set())
    )
    version_text = ".".join(str(p) for p in version) if version else "unknown"
    if missing:
        message = (
            f"the key lacks {len(missing)} permission(s): {', '.join(missing)}; grant them "
            "under Advanced Parameters > Webservice"
        )
    else:
        message = f"the key has every permission the flows need (PrestaShop {version_text})"
    if unneeded:
        message += f"; not needed, consider removing: {', '.join(unneeded)}"
    return CheckResult(
        ok=not missing,
        version=version_text,
        missing=missing,
        unneeded=unneeded,
        message=message,
    )
