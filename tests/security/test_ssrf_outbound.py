"""Every request our server makes passes the SSRF guard, not only connections' base URLs:
the ION and TIMS token URLs (from uploaded credentials), subscribers' URLs and the alert
webhook (connectors.validators.request_guard)."""

import pytest
import responses
from django.core.exceptions import ValidationError

from connectors.errors import AuthError
from connectors.infor.auth import IonTokenProvider
from connectors.infor.ionapi import IonApiCredentials
from connectors.tims.auth import ClientCredentialsToken
from integrations.alerts import Alert, alerts_send
from integrations.models import EventSubscription

METADATA = "http://169.254.169.254/latest/meta-data/iam/token"


@pytest.fixture(autouse=True)
def _no_loopback(settings):
    settings.CONNECTION_ALLOWED_NETWORKS = []


@responses.activate
def test_an_ionapi_file_whose_token_url_is_the_metadata_service_is_refused():
    responses.post(METADATA, json={"access_token": "t", "expires_in": 3600})
    credentials = IonApiCredentials(
        client_id="c",
        client_secret="s",
        token_url=METADATA,
        revoke_url="",
        api_base="https://mingle.example.com/TENANT",
        username="TENANT#svc",
        password="p",
    )
    provider = IonTokenProvider(credentials, connection_key="ssrf-test")
    with pytest.raises(AuthError, match="metadata") as info:
        provider.access_token()
    assert info.value.field == "ionapi"
    assert len(responses.calls) == 0


@responses.activate
def test_a_tims_token_url_on_loopback_is_refused():
    responses.post("http://127.0.0.1:8000/oauth/token", json={"access_token": "t"})
    token = ClientCredentialsToken(
        token_url="http://127.0.0.1:8000/oauth/token", client_id="c", client_secret="s"
    )
    with pytest.raises(AuthError, match="loopback") as info:
        token.access_token()
    assert info.value.field == "token_url"
    assert len(responses.calls) == 0


@pytest.mark.django_db
def test_a_subscription_url_is_checked_on_save():
    subscription = EventSubscription(
        name="evil", url="http://[::1]:8000/admin/", secret={"secret": "whsec_x"}
    )
    with pytest.raises(ValidationError) as info:
        subscription.full_clean()
    assert "loopback" in info.value.message_dict["url"][0]


@responses.activate
def test_the_alert_webhook_is_not_posted_to_a_metadata_address(caplog):
    responses.post(METADATA, status=200)
    sent = alerts_send(
        alerts=[Alert(code="dead", integration="demo", message="1 dead record")],
        webhook_url=METADATA,
        webhook_secret="whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU2Nzg5MA==",
    )
    assert sent.webhook_status is None
    assert len(responses.calls) == 0
    assert "CONSOLE_ALERT_WEBHOOK_URL refused" in caplog.text
