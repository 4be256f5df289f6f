"""Credentials, webhook secrets and signing secrets are write-only: once stored, no admin page
and no API answer shows them, to anyone, superuser included. Also: every XML parse in the
project goes through defusedxml (an AST check)."""

import ast
import secrets
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import EventSubscription
from integrations.subscriptions.signing import secret_generate
from tests.factories import ConnectionFactory, IntegrationFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def canaries(db):
    shop_key = f"canary-api-key-{secrets.token_hex(12)}"
    webhook, signing = secret_generate(), secret_generate()
    connection = ConnectionFactory(credentials={"api_key": shop_key, "note": "x"})
    integration = IntegrationFactory(
        shop_connection=connection, webhook_secrets={"prestashop": [webhook]}
    )
    subscription = EventSubscription.objects.create(
        integration=integration,
        name="sub",
        url="https://hooks.example.com/in",
        event_types=["order.synced"],
        secret={"secret": signing},
    )
    return {
        "values": [shop_key, webhook, signing],
        "connection": connection,
        "integration": integration,
        "subscription": subscription,
    }


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="x")


def test_admin_pages_never_render_a_stored_secret(client, superuser, canaries):
    client.force_login(superuser)
    pages = [
        f"/admin/connectors/connection/{canaries['connection'].pk}/change/",
        "/admin/connectors/connection/",
        f"/admin/integrations/integration/{canaries['integration'].pk}/change/",
        f"/admin/integrations/eventsubscription/{canaries['subscription'].pk}/change/",
        "/admin/integrations/eventsubscription/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for value in canaries["values"]:
            assert value not in html, page
    # What is shown instead: the names of the stored keys.
    change = client.get(pages[0]).content.decode()
    assert "stored, encrypted: api_key, note" in change


def test_a_rejected_form_does_not_echo_the_submitted_credentials(client, superuser, canaries):
    client.force_login(superuser)
    typed = f"canary-typed-{secrets.token_hex(12)}"
    response = client.post(
        f"/admin/connectors/connection/{canaries['connection'].pk}/change/",
        {
            "system": "prestashop",
            "name": "",  # invalid: the form comes back
            "base_url": "http://127.0.0.1:9/api",
            "kind": "cloud",
            "options": "{}",
            "new_credentials": f'{{"api_key": "{typed}"',  # and malformed JSON
        },
    )
    assert response.status_code == 200
    assert typed not in response.content.decode()


def test_the_api_never_returns_a_stored_secret(superuser, canaries):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=superuser).key}")
    urls = [
        "/api/v1/connections/",
        f"/api/v1/connections/{canaries['connection'].pk}/",
        "/api/v1/integrations/",
        f"/api/v1/integrations/{canaries['integration'].pk}/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for value in canaries["values"]:
            assert value not in text, url
    detail = client.get(urls[1]).json()
    assert "credentials" not in detail
    assert detail["credential_names"] == ["api_key", "note"]
    # Writing returns the object without the secret either.
    new = f"canary-new-{secrets.token_hex(12)}"
    response = client.patch(urls[1], {"credentials": {"api_key": new}}, format="json")
    assert response.status_code == 200
    assert new not in response.content.decode()


# ------------------------------------------------------------------------- defusedxml

# Parsing entry points of the standard library and lxml (building XML is safe; parsing
# untrusted XML with them allows entity expansion and external entities).
UNSAFE_PARSERS = {
    "xml.etree.ElementTree": {"fromstring", "parse", "XML", "iterparse", "XMLParser"},
    "xml.etree.cElementTree": {"fromstring", "parse", "XML", "iterparse", "XMLParser"},
    "xml.dom.minidom": {"parse", "parseString"},
    "xml.dom.pulldom": {"parse", "parseString"},
    "xml.sax": {"parse", "parseString", "make_parser"},
    "lxml.etree": {"fromstring", "parse", "XML", "iterparse", "XMLParser"},
}


def unsafe_xml_calls(source: str) -> list[str]:
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in UNSAFE_PARSERS:
                    aliases[alias.asname or alias.name] = full
                elif alias.name in UNSAFE_PARSERS.get(node.module, ()):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            dotted = []
            while isinstance(owner, ast.Attribute):
                dotted.insert(0, owner.attr)
                owner = owner.value
            if isinstance(owner, ast.Name):
                module = ".".join([aliases.get(owner.id, owner.id), *dotted])
                if node.func.attr in UNSAFE_PARSERS.get(module, ()):
                    found.append(f"line {node.lineno}: {module}.{node.func.attr}()")
    return found


def test_the_check_sees_an_unsafe_parse():
    assert unsafe_xml_calls("from xml.etree import ElementTree as ET\nET.fromstring(b)")
    assert unsafe_xml_calls("import xml.etree.ElementTree\nxml.etree.ElementTree.parse(f)")
    assert unsafe_xml_calls("from xml.dom.minidom import parseString")
    assert unsafe_xml_calls("from lxml import etree\netree.fromstring(b)")
    assert not unsafe_xml_calls("from defusedxml import ElementTree as ET\nET.fromstring(b)")
    assert not unsafe_xml_calls("from xml.etree import ElementTree as ET\nET.tostring(e)")


def test_every_xml_parse_in_the_project_uses_defusedxml():
    offenders = []
    for package in ("config", "connectors", "integrations", "mappings", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for call in unsafe_xml_calls(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)} {call}")
    assert not offenders, "parse XML with defusedxml:\n" + "\n".join(offenders)
