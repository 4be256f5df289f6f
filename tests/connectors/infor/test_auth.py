import pytest
import requests
import responses

from connectors.errors import AuthError, RateLimitedError, TransientError
from connectors.infor.auth import IonTokenProvider, token_cache_key
from connectors.infor.ionapi import IonApiCredentials

PU = "https://sso.example.com/T1/as/"
TOKEN_URL = PU + "token.oauth2"
REVOKE_URL = PU + "revoke_token.oauth2"
IONAPI = {
    "ti": "T1",
    "ci": "T1~client",
    "cs": "client-secret-value",
    "iu": "https://ionapi.example.com",
    "pu": PU,
    "ot": "token.oauth2",
    "or": "revoke_token.oauth2",
    "saak": "T1#service-access-key",
    "sask": "service-secret-key",
}


def token(access, refresh="r-1", expires_in=3600):
    body = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return body


def provider(clock=None, key="conn-1", **kwargs):
    clock = clock or [0.0]
    return IonTokenProvider(
        IonApiCredentials.from_dict(IONAPI),
        connection_key=key,
        clock=lambda: clock[0],
        **kwargs,
    )


@responses.activate
def test_token_is_refreshed_a_minute_before_expiry_and_shared():
    responses.post(TOKEN_URL, json=token("a-1"))
    responses.post(TOKEN_URL, json=token("a-2", refresh=None))
    clock = [0.0]
    first = provider(clock)
    assert first.access_token() == "a-1"
    clock[0] = 3600 - 61
    assert first.access_token() == "a-1"  # still more than a minute left
    clock[0] = 3600 - 59
    assert first.access_token() == "a-2"
    assert "grant_type=refresh_token" in responses.calls[1].request.body
    # the refresh token is kept when the refresh answer has none
    assert first._token["refresh_token"] == "r-1"
    # another worker on the same connection sees the refreshed token without a call
    assert provider(clock).access_token() == "a-2"
    assert len(responses.calls) == 2
    assert (first.grants, first.refreshes) == (1, 1)


@responses.activate
def test_refused_refresh_falls_back_to_a_new_password_grant():
    responses.post(TOKEN_URL, json=token("a-1"))
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    responses.post(TOKEN_URL, json=token("a-3"))
    clock = [0.0]
    p = provider(clock)
    p.access_token()
    clock[0] = 4000
    assert p.access_token() == "a-3"
    bodies = [c.request.body for c in responses.calls]
    assert "grant_type=refresh_token" in bodies[1]
    assert "grant_type=password" in bodies[2]


@responses.activate
def test_invalidate_after_401_forces_a_new_token_once():
    responses.post(TOKEN_URL, json=token("a-1"))
    responses.post(TOKEN_URL, json=token("a-2"))
    p = provider()
    assert p.access_token() == "a-1"
    p.invalidate("a-1")
    assert p.access_token() == "a-2"
    p.invalidate("a-1")  # a late 401 for the old token does not drop the new one
    assert p.access_token() == "a-2"
    assert len(responses.calls) == 2


@responses.activate
def test_revoke_sends_the_refresh_token_with_basic_auth_and_forgets_it():
    responses.post(TOKEN_URL, json=token("a-1", refresh="r-9"))
    responses.post(REVOKE_URL, status=200)
    p = provider()
    p.access_token()
    assert p.revoke() is True
    sent = responses.calls[-1].request
    assert "token=r-9" in sent.body and "token_type_hint=refresh_token" in sent.body
    assert sent.headers["Authorization"].startswith("Basic ")
    from django.core.cache import cache

    assert cache.get(token_cache_key("conn-1")) is None


@responses.activate
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            {"status": 400, "json": {"error": "invalid_grant", "error_description": "bad"}},
            AuthError,
        ),
        ({"status": 401, "json": {"error": "invalid_client"}}, AuthError),
        ({"status": 429, "headers": {"Retry-After": "7"}}, RateLimitedError),
        ({"status": 503, "body": "down"}, TransientError),
        ({"status": 502, "body": "<html>bad gateway</html>"}, TransientError),
        ({"body": requests.ConnectionError("refused")}, TransientError),
        ({"body": requests.ReadTimeout("slow")}, TransientError),
        ({"status": 200, "json": {"token_type": "Bearer"}}, AuthError),
    ],
)
def test_token_endpoint_failures_are_classified(reply, error):
    responses.post(TOKEN_URL, **reply)
    with pytest.raises(error) as caught:
        provider().access_token()
    if error is RateLimitedError:
        assert caught.value.retry_after == 7
    assert "service-secret-key" not in str(caught.value)


def test_a_file_without_service_account_keys_cannot_use_the_password_grant():
    ionapi = {k: v for k, v in IONAPI.items() if k not in ("saak", "sask")}
    with pytest.raises(AuthError, match="Create Service Account"):
        IonTokenProvider(IonApiCredentials.from_dict(ionapi))
