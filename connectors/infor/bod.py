"""ION BODs (the event side, reference §5): read a Sync.SalesOrder into the order's status.

Only the skeleton in the reference is known ([D], no captured M3 BOD), so this reads the
few elements every InforOAGIS SalesOrder has and keeps the rest under `raw`; parsed with
defusedxml (no entities, no external references).
"""

from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from connectors.errors import DataError

NS = {"oa": "http://schema.infor.com/InforOAGIS/2"}


def _text(node: Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path, NS)
    return (found.text or "").strip() if found is not None and found.text else ""


def parse_sync_sales_order(xml: str | bytes) -> dict[str, Any]:
    """{bod_id, tenant, action, orno, cuor, cuno, status, currency, total, lines[]}."""
    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise DataError(f"BOD is not acceptable XML: {exc}", field="bod") from None
    if root.tag != f"{{{NS['oa']}}}SyncSalesOrder":
        raise DataError(
            f"not a SyncSalesOrder BOD: root is {root.tag}", field="bod", value=root.tag
        )
    head = root.find("oa:DataArea/oa:SalesOrder/oa:SalesOrderHeader", NS)
    if head is None:
        raise DataError("SyncSalesOrder has no SalesOrderHeader", field="SalesOrderHeader")
    action = root.find("oa:DataArea/oa:Sync/oa:ActionCriteria/oa:ActionExpression", NS)
    total = head.find("oa:TotalAmount", NS)
    lines = []
    for line in root.findall("oa:DataArea/oa:SalesOrder/oa:SalesOrderLine", NS):
        lines.append(
            {
                "line_number": _text(line, "oa:LineNumber"),
                "item": _text(line, "oa:Item/oa:ItemID/oa:ID"),
                "quantity": _text(line, "oa:Quantity"),
                "status": _text(line, "oa:Status/oa:Code"),
            }
        )
    return {
        "bod_id": _text(root, "oa:ApplicationArea/oa:BODID"),
        "tenant": _text(root, "oa:DataArea/oa:Sync/oa:TenantID"),
        "action": action.get("actionCode", "") if action is not None else "",
        "orno": _text(head, "oa:DocumentID/oa:ID"),
        "cuor": _text(head, "oa:CustomerPurchaseOrderReference/oa:DocumentID/oa:ID"),
        "cuno": _text(head, "oa:CustomerParty/oa:PartyIDs/oa:ID"),
        "status": _text(head, "oa:Status/oa:Code"),
        "currency": total.get("currencyID", "") if total is not None else "",
        "total": (total.text or "").strip() if total is not None else "",
        "lines": lines,
    }
