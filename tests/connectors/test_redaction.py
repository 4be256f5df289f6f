import logging

from connectors.redaction import (
    MASK,
    RedactingFilter,
    redact,
    redact_headers,
    redact_text,
    register_secret,
)


def test_sensitive_keys_are_masked_at_any_depth():
    data = {
        "api_key": "abc",
        "user": {"Password": "p", "name": "Ann"},
        "items": [{"client_secret": "s"}],
    }
    assert redact(data) == {
        "api_key": MASK,
        "user": {"Password": MASK, "name": "Ann"},
        "items": [{"client_secret": MASK}],
    }


def test_headers_mask_authorization_and_signatures():
    headers = redact_headers(
        {"Authorization": "Basic abc", "webhook-signature": "v1,xyz", "Content-Type": "text/xml"}
    )
    assert headers == {"Authorization": MASK, "webhook-signature": MASK, "Content-Type": "text/xml"}


def test_registered_secrets_are_masked_inside_any_text():
    register_secret({"api_key": "ZQ88KJ2L-canary-value"})
    assert (
        redact_text("calling https://x/api?foo=ZQ88KJ2L-canary-value now")
        == f"calling https://x/api?foo={MASK} now"
    )


def test_inline_credentials_are_masked():
    assert MASK in redact_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc")
    assert (
        redact_text("GET /api/orders?ws_key=ABCDEF&display=full")
        == f"GET /api/orders?ws_key={MASK}&display=full"
    )


def test_the_logging_filter_masks_messages_arguments_and_tracebacks():
    register_secret("s3cr3t-token-value")
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "token %s", ("s3cr3t-token-value",), None
    )
    try:
        raise ValueError("bad s3cr3t-token-value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert record.getMessage() == f"token {MASK}"
    assert "s3cr3t-token-value" not in record.exc_text
