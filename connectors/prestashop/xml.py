"""PrestaShop XML in and out: parsed with defusedxml, built with ElementTree.

Parsed documents become the same "wire dict" shape the JSON renderer produces (reference §2),
so the rest of the connector reads one shape whatever the format:

- one record: `{"order": {...}}`; a list: `{"orders": [{...}, ...]}`;
- a leaf is its text (always a string in XML; "" when empty, XML cannot tell null apart);
- a multi-language field is `[{"id": "1", "value": "..."}, ...]`;
- `associations` is `{"order_rows": [{...}, ...]}` (always lists, even for one row);
- a record listed without `display` (`<order id="1" xlink:href=…/>`) is `{"id": "1"}`;
- errors are `{"errors": [{"code": "92", "message": "Invalid ID"}]}`.
"""

from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET  # building only; parsing goes through defusedxml

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from connectors.errors import DataError

XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("xlink", XLINK)


def parse_element(body: bytes | str, *, what: str = "response") -> ET.Element:
    """The `<prestashop>` root of a body, or DataError when it is not well-formed XML."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        return SafeET.fromstring(body)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise DataError(
            f"{what}: the XML body is malformed ({exc})", field="body", value=body[:80]
        ) from None


def xml_to_wire(body: bytes | str, *, what: str = "response") -> dict[str, Any]:
    """Parse a Webservice XML body into the wire-dict shape described in the module doc."""
    root = parse_element(body, what=what)
    children = list(root)
    if not children:
        return {}
    top = children[0]
    if top.tag == "errors":
        return {"errors": [_error(e) for e in top]}
    if top.tag == "api":
        return {"api": api_permissions(top)}
    if _is_list(top):
        return {top.tag: [record_to_wire(child) for child in top]}
    return {top.tag: record_to_wire(top)}


def _error(element: ET.Element) -> dict[str, str]:
    return {
        "code": (element.findtext("code") or "").strip(),
        "message": (element.findtext("message") or "").strip(),
    }


def _is_list(element: ET.Element) -> bool:
    # A record always has leaves (at least <id>); a list only holds records. An empty wrapper
    # (`<order_payments></order_payments>`) is an empty list.
    children = list(element)
    if not children:
        return True
    return all(len(child) or child.get("id") is not None for child in children) and (
        len({child.tag for child in children}) == 1
    )


# A PrestaShop record nests a few levels (record, associations, rows, fields); anything far
# deeper is not a PrestaShop answer, and recursing into it would exhaust the stack.
MAX_DEPTH = 32


def record_to_wire(element: ET.Element, _depth: int = 0) -> dict[str, Any]:
    """One record element as a dict (see the module doc for the shape)."""
    if _depth > MAX_DEPTH:
        raise DataError(f"PrestaShop XML nests deeper than {MAX_DEPTH} levels", field=element.tag)
    record: dict[str, Any] = {}
    if element.get("id") is not None and not len(element):
        return {"id": element.get("id")}
    for child in element:
        if child.tag == "associations":
            record["associations"] = {
                assoc.tag: [record_to_wire(row, _depth + 2) for row in assoc] for assoc in child
            }
        elif len(child) and all(grand.tag == "language" for grand in child):
            record[child.tag] = [
                {"id": grand.get("id", ""), "value": grand.text or ""} for grand in child
            ]
        elif len(child):
            record[child.tag] = record_to_wire(child, _depth + 1)
        else:
            record[child.tag] = _text(child)
    return record


def _text(element: ET.Element) -> str:
    text = element.text or ""
    # Pretty-printed documents wrap CDATA in a newline and indentation (sample error.xml);
    # a real value never starts with a newline, so only then is the padding dropped.
    return text.strip() if text.startswith("\n") or not text.strip() else text


def api_permissions(api: ET.Element) -> dict[str, dict[str, bool]]:
    """`GET /api/`: resource -> {method: allowed} from the get/put/post/… attributes."""
    permissions: dict[str, dict[str, bool]] = {}
    for child in api:
        methods = {
            method.upper(): child.get(method) == "true"
            for method in ("get", "put", "post", "patch", "delete", "head")
            if child.get(method) is not None
        }
        permissions[child.tag] = methods
    return permissions


def render_value(value: Any) -> str:
    """A Python value as PrestaShop text: Decimal unscientific, bools 1/0, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def build(element: str, fields: dict[str, Any]) -> bytes:
    """A write body: `<prestashop><element>…</element></prestashop>`.

    Values are plain text (escaped by ElementTree) and never pretty-printed (reference §2: a
    value wrapped in whitespace breaks). A dict value is a multi-language field
    `{language_id: text}`; the key `associations` holds `{name: [{field: value}, …]}`.
    """
    root = ET.Element("prestashop")
    record = ET.SubElement(root, element)
    for name, value in fields.items():
        child = ET.SubElement(record, name)
        _fill(child, name, value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _fill(child: ET.Element, name: str, value: Any) -> None:
    if name == "associations":
        for assoc, rows in value.items():
            wrapper = ET.SubElement(child, assoc)
            for row in rows:
                item = ET.SubElement(wrapper, assoc.removesuffix("s"))
                for key, val in row.items():
                    ET.SubElement(item, key).text = render_value(val)
    elif isinstance(value, dict):
        for language_id, text in value.items():
            ET.SubElement(child, "language", id=str(language_id)).text = render_value(text)
    else:
        child.text = render_value(value)


def merge_into(
    document: bytes | str,
    element: str,
    changes: dict[str, Any],
    *,
    drop: tuple[str, ...] | frozenset[str] = (),
) -> bytes:
    """Read-modify-write: the whole record from a GET, with only `changes` replaced.

    PUT is a full replace (reference §3): whatever the body leaves out is reset. So the body
    is the document just read, every field kept as it came, output-only attributes
    (xlink:href, notFilterable) dropped, and only the named fields changed. A multi-language
    change `{language_id: text}` replaces those languages and keeps the others. `drop`
    names fields removed from the body: read-only fields the shop refuses on a write.
    """
    root = parse_element(document, what=f"GET {element}")
    record = root.find(element)
    if record is None:
        raise DataError(
            f"the document to update has no <{element}> element", field=element, value=None
        )
    for node in record.iter():
        for attribute in list(node.attrib):
            if not (attribute == "id" and node.tag == "language"):
                del node.attrib[attribute]
    for name in drop:
        for child in record.findall(name):
            record.remove(child)
    for name, value in changes.items():
        child = record.find(name)
        if child is None:
            child = ET.SubElement(record, name)
        if isinstance(value, dict) and name != "associations":
            for language_id, text in value.items():
                language = child.find(f"language[@id='{language_id}']")
                if language is None:
                    language = ET.SubElement(child, "language", id=str(language_id))
                language.text = render_value(text)
        else:
            for grand in list(child):
                child.remove(grand)
            _fill(child, name, value)
    out = ET.Element("prestashop")
    out.append(record)
    return ET.tostring(out, encoding="utf-8", xml_declaration=True)
