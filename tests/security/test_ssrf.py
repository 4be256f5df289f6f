"""Connection URLs cannot point this server at itself, the cloud's metadata service or
link-local addresses unless a setting allows it (connectors.validators)."""

import ipaddress

import pytest
import responses
from django.core.exceptions import ValidationError

from connectors.errors import PermanentError
from connectors.http import HttpClient
from connectors.models import Connection, System
from connectors.validators import (
    DestinationGuard,
    DestinationPolicy,
    UnsafeDestination,
    check_destination,
)

PRODUCTION = DestinationPolicy(require_https=True, allowed_networks=(), allow_private=True)
STRICT = DestinationPolicy(require_https=True, allowed_networks=(), allow_private=False)


def resolver(*addresses: str):
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/api", "loopback"),
        ("https://127.1.2.3:8443/api", "loopback"),
        ("https://[::1]/api", "loopback"),
        ("https://[::ffff:127.0.0.1]/api", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("https://100.100.100.200/", "metadata"),
        ("https://169.254.10.1/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://0.0.0.0/", "not a unicast"),
        ("https://224.0.0.1/", "not a unicast"),
        ("https://100.64.0.1/", "carrier-grade NAT"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ],
)
def test_production_refuses_internal_destinations(url, reason):
    with pytest.raises(UnsafeDestination, match=reason):
        check_destination(url, policy=PRODUCTION, resolve=unresolvable)


@pytest.mark.parametrize(
    ("resolved", "reason"),
    [
        (["127.0.0.1"], "loopback"),
        (["93.184.215.14", "169.254.169.254"], "metadata"),  # one bad address is enough
        (["fe80::1%eth0"], "link-local"),
    ],
)
def test_every_resolved_address_of_a_name_is_checked(resolved, reason):
    with pytest.raises(UnsafeDestination, match=rf"shop\.example\.com resolves to .* {reason}"):
        check_destination(
            "https://shop.example.com/api", policy=PRODUCTION, resolve=resolver(*resolved)
        )


def test_production_requires_https():
    with pytest.raises(UnsafeDestination, match="https is required"):
        check_destination("http://shop.example.com/api", policy=PRODUCTION, resolve=unresolvable)


@pytest.mark.parametrize("url", ["ftp://shop.example.com/", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https(url):
    with pytest.raises(UnsafeDestination, match="only http and https"):
        check_destination(url, policy=PRODUCTION, resolve=unresolvable)


def test_credentials_in_the_url_are_refused_without_echoing_them():
    with pytest.raises(UnsafeDestination) as info:
        check_destination(
            "https://user:hunter2-secret@shop.example.com/", policy=PRODUCTION, resolve=unresolvable
        )
    assert "hunter2-secret" not in str(info.value)


def test_public_addresses_pass():
    check_destination("https://93.184.215.14/api", policy=PRODUCTION)
    check_destination(
        "https://shop.example.com/api", policy=PRODUCTION, resolve=resolver("93.184.215.14")
    )


def test_private_networks_follow_their_setting():
    check_destination("https://10.1.2.3/m3api-rest", policy=PRODUCTION)
    with pytest.raises(UnsafeDestination, match="private"):
        check_destination("https://10.1.2.3/m3api-rest", policy=STRICT)
    listed = DestinationPolicy(
        require_https=True,
        allowed_networks=(ipaddress.ip_network("10.1.2.0/24"),),
        allow_private=False,
    )
    check_destination("https://10.1.2.3/m3api-rest", policy=listed)


def test_an_explicit_network_allows_loopback_but_a_wide_one_never_allows_metadata():
    wide = DestinationPolicy(
        require_https=False,
        allowed_networks=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")),
        allow_private=True,
    )
    check_destination("http://127.0.0.1:8001/api", policy=wide)
    with pytest.raises(UnsafeDestination, match="metadata"):
        check_destination("http://169.254.169.254/", policy=wide)
    exact = DestinationPolicy(
        require_https=False,
        allowed_networks=(ipaddress.ip_network("169.254.169.254/32"),),
        allow_private=True,
    )
    check_destination("http://169.254.169.254/", policy=exact)


def test_a_name_that_does_not_resolve_is_left_to_the_request_time_check():
    check_destination("https://not-yet.example.com/", policy=PRODUCTION, resolve=unresolvable)


def test_development_settings_allow_the_simulators_on_loopback(settings):
    assert not settings.CONNECTION_REQUIRE_HTTPS
    check_destination("http://127.0.0.1:8001/api")
    check_destination("http://localhost:8001/api")
    with pytest.raises(UnsafeDestination, match="metadata"):
        check_destination("http://169.254.169.254/")


@pytest.fixture
def production_policy(settings):
    settings.CONNECTION_REQUIRE_HTTPS = True
    settings.CONNECTION_ALLOWED_NETWORKS = []
    return settings


@pytest.mark.django_db
def test_connection_clean_names_the_field(production_policy):
    connection = Connection(
        system=System.PRESTASHOP, name="x", base_url="https://169.254.169.254/api"
    )
    with pytest.raises(ValidationError) as info:
        connection.full_clean()
    assert "metadata" in info.value.message_dict["base_url"][0]


@pytest.mark.django_db
def test_admin_form_refuses_a_loopback_url(client, django_user_model, production_policy):
    user = django_user_model.objects.create_superuser("root", password="pw-123456789")
    client.force_login(user)
    response = client.post(
        "/admin/connectors/connection/add/",
        {
            "system": "prestashop",
            "name": "evil",
            "base_url": "https://127.0.0.1:8000/admin",
            "kind": "cloud",
            "options": "{}",
            "new_credentials": '{"api_key": "abcdefabcdef"}',
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"loopback" in response.content
    assert not Connection.objects.filter(name="evil").exists()


@pytest.mark.django_db
def test_api_refuses_a_metadata_url(django_user_model, production_policy):
    from tests.api.conftest import ADMIN_PERMS, make_user, token_client

    client = token_client(make_user("cfg", ADMIN_PERMS))
    response = client.post(
        "/api/v1/connections/",
        {
            "system": "prestashop",
            "name": "evil",
            "base_url": "https://[fd00:ec2::254]/latest/meta-data/",
            "kind": "cloud",
            "credentials": {"api_key": "abcdefabcdef"},
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "metadata" in str(response.json())
    assert not Connection.objects.filter(name="evil").exists()


def test_request_time_check_catches_a_name_re_pointed_after_save(settings):
    """DNS rebinding: the name passed when saved, now it resolves to the metadata service."""
    answers = {"shop.example.com": ["93.184.215.14"]}
    guard = DestinationGuard(resolve=lambda host, port: answers[host], ttl=0)
    guard.check("https://shop.example.com/api")
    answers["shop.example.com"] = ["169.254.169.254"]
    with pytest.raises(UnsafeDestination, match="metadata"):
        guard.check("https://shop.example.com/api")


@responses.activate
def test_the_http_client_refuses_before_sending(settings):
    settings.CONNECTION_ALLOWED_NETWORKS = []
    responses.get("http://127.0.0.1:9/api/orders", json={})
    client = HttpClient("http://127.0.0.1:9/api")
    with pytest.raises(PermanentError, match="loopback") as info:
        client.request("GET", "orders")
    assert info.value.field == "base_url"
    assert len(responses.calls) == 0
