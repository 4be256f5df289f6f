"""Turn a verified body into (event type, data): JSON events, or ION BODs in XML.

JSON follows the Standard Webhooks payload shape: {"type": "order.created", "timestamp": …,
"data": {"resource": "orders", "id": 42, "date_upd": "…"}}. XML is an Infor OAGIS BOD whose
root is verb + noun (SyncSalesOrder, SyncShipment, SyncInvoice); it is parsed with defusedxml,
which refuses DTDs and entities, so an entity-expansion bomb is a clean 400.
"""

from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings

from connectors.jsonlimits import JSONLimitError, json_loads_limited
from integrations.webhooks.verify import Rejection, media_type

EVENT_TYPE_MAX = 100
# Deepest JSON nesting accepted in an event (a real one nests 3 or 4 levels).
MAX_JSON_DEPTH = getattr(settings, "WEBHOOK_MAX_JSON_DEPTH", 32)


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    data: dict[str, Any] = field(default_factory=dict)


def parse_event(*, body: str, content_type: str) -> ParsedEvent:
    if media_type(content_type) in ("application/xml", "text/xml"):
        return parse_bod(body)
    return parse_json_event(body)


def parse_json_event(body: str) -> ParsedEvent:
    try:
        document = json_loads_limited(body, max_depth=MAX_JSON_DEPTH)
    except JSONLimitError as error:
        raise Rejection(400, "malformed_body", f"the body is {error}") from None
    if not isinstance(document, dict):
        raise Rejection(400, "malformed_body", "the body must be a JSON object")
    event_type = document.get("type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise Rejection(400, "malformed_body", 'the event has no "type" (e.g. "order.created")')
    if len(event_type) > EVENT_TYPE_MAX:
        raise Rejection(400, "malformed_body", f'"type" is longer than {EVENT_TYPE_MAX} characters')
    data = document.get("data", {})
    if not isinstance(data, dict):
        raise Rejection(400, "malformed_body", '"data" must be a JSON object')
    return ParsedEvent(event_type=event_type.strip(), data=data)


# What is read from a BOD, as paths of local names (namespaces ignored) under the noun.
BOD_FIELDS: dict[str, tuple[str, ...]] = {
    "document_id": ("Header", "DocumentID", "ID"),
    "customer_po": ("Header", "CustomerPurchaseOrderReference", "DocumentID", "ID"),
    "sales_order_id": ("Header", "SalesOrderReference", "DocumentID", "ID"),
    "status": ("Header", "Status", "Code"),
    "tracking_id": ("Header", "TrackingID"),
    "total_amount": ("Header", "TotalAmount"),
}


def parse_bod(body: str) -> ParsedEvent:
    try:
        root = fromstring(body.encode("utf-8"), forbid_dtd=True)
    except DefusedXmlException as error:
        raise Rejection(
            400,
            "forbidden_xml",
            f"XML with a DTD or entity declarations is refused ({type(error).__name__})",
        ) from None
    except ParseError as error:
        raise Rejection(
            400, "malformed_body", f"the body is not well-formed XML: {error}"
        ) from None
    verb_noun = local(root.tag)
    data: dict[str, Any] = {"bod": verb_noun}
    data["bod_id"] = text_at(root, ("ApplicationArea", "BODID"))
    data["created_at"] = text_at(root, ("ApplicationArea", "CreationDateTime"))
    data["sender"] = text_at(root, ("ApplicationArea", "Sender", "LogicalID"))
    data_area = child(root, "DataArea")
    verb = next((c for c in data_area or [] if local(c.tag) in VERBS), None)
    data["action"] = ""
    if verb is not None:
        expression = find_path(verb, ("ActionCriteria", "ActionExpression"))
        data["action"] = (expression.get("actionCode") or "") if expression is not None else ""
    noun = next((c for c in data_area or [] if local(c.tag) not in VERBS), None)
    if noun is None:
        raise Rejection(400, "malformed_body", f"{verb_noun}: the BOD has no DataArea noun")
    data["noun"] = local(noun.tag)
    for name, path in BOD_FIELDS.items():
        data[name] = _header_text(noun, path)
    if not data["sales_order_id"]:
        # Shipments and invoices often name their sales order on the lines only.
        data["sales_order_id"] = _first_text(noun, "SalesOrderReference")
    data["order_id"] = data["sales_order_id"] or (
        data["document_id"] if data["noun"] == "SalesOrder" else ""
    )
    data["state"] = BOD_STATES.get(verb_noun, "")
    return ParsedEvent(event_type=verb_noun, data=data)


# The order state a BOD itself proves (integrations.flows.status_back reads the rest).
BOD_STATES = {"SyncShipment": "shipped", "SyncInvoice": "invoiced"}


def _first_text(element: Element, name: str) -> str:
    for found in element.iter():
        if local(found.tag) == name:
            return text_at(found, ("DocumentID", "ID"))
    return ""


VERBS = frozenset({"Sync", "Process", "Show", "Acknowledge", "Get", "Load", "Notify"})


def local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((c for c in element if local(c.tag) == name), None)


def find_path(element: Element | None, path: tuple[str, ...]) -> Element | None:
    for name in path:
        element = child(element, name)
        if element is None:
            return None
    return element


def text_at(element: Element | None, path: tuple[str, ...]) -> str:
    found = find_path(element, path)
    return (found.text or "").strip() if found is not None else ""


def _header_text(noun: Element, path: tuple[str, ...]) -> str:
    # "Header" stands for the noun's own header: SalesOrderHeader, ShipmentHeader, …
    header = next((c for c in noun if local(c.tag).endswith("Header")), None)
    return text_at(header, path[1:])
