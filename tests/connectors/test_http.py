import pytest
import requests
import responses

from connectors.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from connectors.http import ClientOptions, HttpClient, backoff_delay, parse_retry_after

BASE = "https://erp.example.com/api"


def client(**options):
    sleeps = []
    c = HttpClient(BASE, options=ClientOptions(**options), sleep=sleeps.append)
    c.sleeps = sleeps
    return c


@responses.activate
def test_success_returns_the_response():
    responses.get(f"{BASE}/items", json={"ok": True})
    assert client().request("GET", "items").json() == {"ok": True}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (400, PermanentError),
        (422, PermanentError),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (429, RateLimitedError),
    ],
)
@responses.activate
def test_status_codes_are_classified_once(status, error):
    responses.get(f"{BASE}/items", status=status, body="nope")
    with pytest.raises(error) as caught:
        client(safe_retries=0).request("GET", "items")
    assert caught.value.status_code == status
    assert f"HTTP {status}" in str(caught.value)


@responses.activate
def test_get_is_retried_on_5xx_then_succeeds():
    responses.get(f"{BASE}/items", status=503)
    responses.get(f"{BASE}/items", json=[1])
    c = client(safe_retries=2)
    assert c.request("GET", "items").json() == [1]
    assert len(responses.calls) == 2
    assert len(c.sleeps) == 1


@responses.activate
def test_post_is_never_retried_blindly():
    responses.post(f"{BASE}/orders", status=503)
    c = client(safe_retries=5)
    with pytest.raises(TransientError):
        c.request("POST", "orders", json={"ref": "A"})
    assert len(responses.calls) == 1


@responses.activate
def test_a_write_sent_as_get_can_be_marked_not_idempotent():
    # M3's write transactions are GETs: the caller says so, and no retry happens.
    responses.get(f"{BASE}/execute/OIS100MI/AddBatchHead", status=502)
    c = client(safe_retries=5)
    with pytest.raises(TransientError):
        c.request("GET", "execute/OIS100MI/AddBatchHead", idempotent=False)
    assert len(responses.calls) == 1


@responses.activate
def test_429_retry_after_is_honoured_and_reported():
    responses.get(f"{BASE}/items", status=429, headers={"Retry-After": "3"})
    responses.get(f"{BASE}/items", json=[])
    c = client(safe_retries=1)
    c.request("GET", "items")
    assert c.sleeps and c.sleeps[0] >= 3


@responses.activate
def test_a_long_retry_after_is_left_to_the_pipeline():
    responses.get(f"{BASE}/items", status=429, headers={"Retry-After": "120"})
    c = client(safe_retries=3)
    with pytest.raises(RateLimitedError) as caught:
        c.request("GET", "items")
    assert caught.value.retry_after == 120
    assert c.sleeps == []


@responses.activate
def test_timeouts_and_connection_errors_are_transient():
    responses.get(f"{BASE}/slow", body=requests.Timeout("read timed out"))
    responses.get(f"{BASE}/down", body=requests.ConnectionError("refused"))
    c = client(safe_retries=0)
    with pytest.raises(TransientError, match="timed out"):
        c.request("GET", "slow")
    with pytest.raises(TransientError, match="could not connect"):
        c.request("GET", "down")


@responses.activate
def test_error_text_never_carries_a_key_from_the_url():
    responses.get(f"{BASE}/orders", status=500, body="boom")
    with pytest.raises(TransientError) as caught:
        client(safe_retries=0).request("GET", "orders?ws_key=SECRETSECRETSECRET")
    assert "SECRETSECRETSECRET" not in str(caught.value)


@responses.activate
def test_timeouts_come_from_the_connection_options():
    responses.get(f"{BASE}/items", json=[])
    client(connect_timeout=1.5, read_timeout=7).request("GET", "items")
    assert responses.calls[0].request.req_kwargs["timeout"] == (1.5, 7)


def test_retry_after_parses_seconds_and_http_dates():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Thu, 01 Jan 2026 12:01:00 GMT", now=now) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_full_jitter_is_bounded_and_respects_retry_after():
    for attempt in range(1, 10):
        delay = backoff_delay(attempt, base=2, cap=60)
        assert 0 <= delay <= min(60, 2 * 2 ** (attempt - 1))
    assert backoff_delay(1, base=2, cap=60, retry_after=300) == 300


def test_options_keep_unknown_keys_as_extra():
    options = ClientOptions.from_mapping({"read_timeout": 3, "version": "8.1"})
    assert options.read_timeout == 3
    assert options.extra == {"version": "8.1"}
