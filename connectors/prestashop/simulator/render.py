"""Rendering records as the Webservice does, in XML (the default) or JSON (reference §2).

Version profiles switch what changed between releases: integer columns as JSON ints on PHP
8.1+ (profiles 8 and 9), PATCH from 8.0, `product_isbn`/`id_customization` in order rows
from 1.7.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connectors.prestashop.simulator.schema import (
    ASSOCIATIONS,
    BOOL,
    DESCRIPTIONS,
    ELEMENTS,
    ID,
    INT,
    LANG,
    SCHEMAS,
    Field,
)

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
XML_OPEN = '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'


@dataclass(frozen=True)
class Profile:
    name: str
    psws_version: str  # the PSWS-Version header
    json_ints: bool  # PHP >= 8.1 renders integer columns as ints (PrestaShop#36836)
    patch: bool  # PATCH exists from 8.0 (PR #27952)
    conditional_get: bool = False  # Local-Content-Sha1 -> 304, documented as fixed in 8.0


PROFILES: dict[str, Profile] = {
    "1.7": Profile("1.7", "1.7.8.8", json_ints=False, patch=False),
    "8": Profile("8", "8.1.7", json_ints=True, patch=True, conditional_get=True),
    "9": Profile("9", "9.0.1", json_ints=True, patch=True, conditional_get=True),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[str(name)]
    except KeyError:
        raise ValueError(
            f"unknown PrestaShop version profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None


# ------------------------------------------------------------------ JSON


def _json_value(field: Field, value: Any, prof: Profile, languages: list[int] | None) -> Any:
    kind = field.kind
    if kind == ID:
        return value
    if kind == INT:
        return value if prof.json_ints else str(value)
    if kind == BOOL:
        return "1" if value else "0"
    if kind == LANG:
        items = [(k, v) for k, v in sorted(value.items()) if languages is None or k in languages]
        if (languages is not None and len(languages) == 1) or len(items) == 1:
            return items[0][1] if items else ""
        return [{"id": k if prof.json_ints else str(k), "value": v} for k, v in items]
    return "" if value is None else str(value)


def record_json(
    resource: str,
    record: dict[str, Any],
    fields: list[str] | None,
    prof: Profile,
    languages: list[int] | None = None,
) -> dict[str, Any]:
    """`fields` None = the full record with associations."""
    schema = SCHEMAS[resource]
    out: dict[str, Any] = {}
    for field in schema:
        if fields is None or field.name in fields:
            out[field.name] = _json_value(field, record.get(field.name), prof, languages)
    if fields is None and resource in ASSOCIATIONS:
        assoc = record.get("associations") or {}
        rendered = {}
        for name, (_element, row_fields) in ASSOCIATIONS[resource].items():
            rows = assoc.get(name) or []
            if rows:
                rendered[name] = [
                    {
                        f.name: _json_value(f, row.get(f.name), prof, None)
                        for f in row_fields
                        if f.name in row
                    }
                    for row in rows
                ]
        if rendered:
            out["associations"] = rendered
    return out


def json_single(resource: str, record: dict, prof: Profile, languages=None) -> bytes:
    payload = {ELEMENTS[resource]: record_json(resource, record, None, prof, languages)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_list(
    resource: str,
    records: Iterable[dict],
    display: list[str] | str | None,
    prof: Profile,
    languages=None,
) -> bytes:
    if display is None:
        rows = [{"id": r["id"]} for r in records]
    else:
        fields = None if display == "full" else display
        rows = [record_json(resource, r, fields, prof, languages) for r in records]
    if not rows:
        # PrestaShop renders an empty JSON list as [] (reference §6 bug 1).
        return b"[]"
    return json.dumps({resource: rows}, ensure_ascii=False, separators=(",", ":")).encode()


# ------------------------------------------------------------------ XML


def _cdata(text: str) -> str:
    if text == "":
        return ""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_field(field: Field, value: Any, base: str, languages: list[int] | None) -> str:
    name = field.name
    attrs = ""
    if field.fk and value not in (0, None, ""):
        attrs += f' xlink:href="{base}/{field.fk}/{value}"'
    if field.readonly:
        attrs += ' notFilterable="true"'
    if field.kind == LANG:
        inner = "".join(
            f'<language id="{k}" xlink:href="{base}/languages/{k}">{_cdata(str(v))}</language>'
            for k, v in sorted(value.items())
            if languages is None or k in languages
        )
        return f"<{name}{attrs}>{inner}</{name}>"
    text = ("1" if value else "0") if field.kind == BOOL else "" if value is None else str(value)
    return f"<{name}{attrs}>{_cdata(text)}</{name}>"


def record_xml(
    resource: str,
    record: dict[str, Any],
    fields: list[str] | None,
    base: str,
    languages: list[int] | None = None,
) -> str:
    element = ELEMENTS[resource]
    parts = [f"<{element}>"]
    for field in SCHEMAS[resource]:
        if fields is None or field.name in fields:
            parts.append("\t" + _xml_field(field, record.get(field.name), base, languages))
    if fields is None and resource in ASSOCIATIONS:
        parts.append("<associations>")
        assoc = record.get("associations") or {}
        for name, (row_element, row_fields) in ASSOCIATIONS[resource].items():
            rows = assoc.get(name) or []
            if not rows:
                parts.append(f'<{name} nodeType="{row_element}" api="{name}"/>')
                continue
            parts.append(f'<{name} nodeType="{row_element}" api="{name}">')
            for row in rows:
                parts.append(f"\t<{row_element}>")
                parts.extend(
                    "\t" + _xml_field(f, row.get(f.name), base, None)
                    for f in row_fields
                    if f.name in row
                )
                parts.append(f"\t</{row_element}>")
            parts.append(f"</{name}>")
        parts.append("</associations>")
    parts.append(f"</{element}>")
    return "\n".join(parts)


def xml_single(resource: str, record: dict, base: str, languages=None) -> bytes:
    body = record_xml(resource, record, None, base, languages)
    return f"{XML_HEAD}{XML_OPEN}\n{body}\n</prestashop>\n".encode()


def xml_list(
    resource: str,
    records: Iterable[dict],
    display: list[str] | str | None,
    base: str,
    languages=None,
) -> bytes:
    element = ELEMENTS[resource]
    parts = [XML_HEAD + XML_OPEN, f"<{resource}>"]
    for record in records:
        if display is None:
            parts.append(
                f'<{element} id="{record["id"]}" xlink:href="{base}/{resource}/{record["id"]}"/>'
            )
        else:
            fields = None if display == "full" else display
            parts.append(record_xml(resource, record, fields, base, languages))
    parts.append(f"</{resource}>\n</prestashop>\n")
    return "\n".join(parts).encode()


def xml_errors(errors: list[tuple[int, str]]) -> bytes:
    inner = "".join(
        f"<error>\n<code>{_cdata(str(code))}</code>\n<message>{_cdata(message)}</message>\n</error>\n"
        for code, message in errors
    )
    return f"{XML_HEAD}{XML_OPEN}\n<errors>\n{inner}</errors>\n</prestashop>\n".encode()


def json_errors(errors: list[tuple[int, str]]) -> bytes:
    return json.dumps({"errors": [{"code": c, "message": m} for c, m in errors]}).encode()


def xml_api_root(
    permissions: dict[str, set[str]], base: str, shop_name: str = "Simulated shop"
) -> bytes:
    parts = [XML_HEAD + XML_OPEN, f'<api shopName="{shop_name}">']
    for resource in sorted(permissions):
        methods = permissions[resource]
        flags = " ".join(
            f'{m.lower()}="{"true" if m in methods else "false"}"'
            for m in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD")
        )
        description = DESCRIPTIONS.get(resource, resource)
        parts.append(
            f'<{resource} xlink:href="{base}/{resource}" {flags}>'
            f'<description xlink:href="{base}/{resource}" {flags}>{description}</description>'
            f'<schema xlink:href="{base}/{resource}?schema=blank" type="blank"/>'
            f"</{resource}>"
        )
    parts.append("</api>\n</prestashop>\n")
    return "\n".join(parts).encode()
