"""Credentials: ciphertext in the table, absent from admin HTML and logs; rotation works."""

import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from connectors.encryption import DecryptionError
from connectors.models import Connection
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

CANARY = "CANARY-9f3c1e7a-do-not-leak"


def raw_column(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_credentials_are_ciphertext_in_the_table():
    conn = ConnectionFactory(credentials={"api_key": CANARY})

    stored = raw_column(conn.pk)

    assert CANARY not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": CANARY}


def test_rotation_re_encrypts_and_old_keys_still_read(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    conn = ConnectionFactory(credentials={"api_key": CANARY})
    before = raw_column(conn.pk)
    new_key = Fernet.generate_key().decode()

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        # the new key is first, the old token still reads
        assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": CANARY}
        call_command("rotate_credentials_key", stdout=io.StringIO())
        after = raw_column(conn.pk)

    assert after != before
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": CANARY}
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]), pytest.raises(DecryptionError):
        Connection.objects.get(pk=conn.pk)


def test_rotation_with_a_missing_key_stops_with_a_clear_error(settings):
    ConnectionFactory(credentials={"api_key": CANARY})
    from django.core.management.base import CommandError

    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(CommandError, match="cannot be decrypted"),
    ):
        call_command("rotate_credentials_key")


def test_admin_never_renders_credentials(admin_client):
    conn = ConnectionFactory(credentials={"api_key": CANARY, "secret": CANARY + "-2"})

    change = admin_client.get(f"/admin/connectors/connection/{conn.pk}/change/")
    listing = admin_client.get("/admin/connectors/connection/")

    assert change.status_code == 200
    for page in (change, listing):
        assert CANARY not in page.content.decode()
    assert "stored, encrypted: api_key, secret" in change.content.decode()


def test_admin_replaces_credentials_through_the_write_only_field(admin_client):
    conn = ConnectionFactory(credentials={"api_key": "old-key-value"})
    form = {
        "system": conn.system,
        "name": conn.name,
        "base_url": conn.base_url,
        "kind": conn.kind,
        "options": "{}",
        "new_credentials": f'{{"api_key": "{CANARY}"}}',
    }

    response = admin_client.post(f"/admin/connectors/connection/{conn.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": CANARY}


def test_admin_keeps_credentials_when_the_field_is_blank(admin_client):
    conn = ConnectionFactory(credentials={"api_key": CANARY})
    form = {
        "system": conn.system,
        "name": conn.name,
        "base_url": conn.base_url,
        "kind": conn.kind,
        "options": "{}",
        "new_credentials": "",
    }

    admin_client.post(f"/admin/connectors/connection/{conn.pk}/change/", form)

    assert Connection.objects.get(pk=conn.pk).credentials == {"api_key": CANARY}


def test_bad_credentials_json_is_refused_without_echoing_it(admin_client):
    conn = ConnectionFactory()
    form = {
        "system": conn.system,
        "name": conn.name,
        "base_url": conn.base_url,
        "kind": conn.kind,
        "options": "{}",
        "new_credentials": f'{{"api_key": "{CANARY}"',
    }

    response = admin_client.post(f"/admin/connectors/connection/{conn.pk}/change/", form)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Credentials must be a JSON object" in page
    assert CANARY not in page


def test_logs_never_carry_a_credential(caplog):
    conn = ConnectionFactory(credentials={"api_key": CANARY})
    creds = Connection.objects.get(pk=conn.pk).credentials  # decrypting registers the secret
    logger = logging.getLogger("connectors.test")
    handler_filter = __import__(
        "connectors.redaction", fromlist=["RedactingFilter"]
    ).RedactingFilter()
    caplog.handler.addFilter(handler_filter)

    logger.warning("calling with key %s", creds["api_key"])
    logger.error("request failed for https://shop/api/orders?ws_key=%s", CANARY)
    try:
        raise RuntimeError(f"auth failed with {CANARY}")
    except RuntimeError:
        logger.exception("boom")

    assert CANARY not in caplog.text
    assert all(CANARY not in (r.exc_text or "") for r in caplog.records)


def test_the_configured_logging_redacts(capfd):
    """The real LOGGING config (handler + filter), not a test double."""
    import logging.config

    from django.conf import settings

    ConnectionFactory(credentials={"api_key": CANARY})
    Connection.objects.get(name__startswith="connection").credentials  # noqa: B018
    logging.config.dictConfig(settings.LOGGING)
    logging.getLogger("integrations.pipeline").warning("key is %s", CANARY)
    err = capfd.readouterr().err
    assert "key is ***" in err
    assert CANARY not in err


def test_replacing_m3_credentials_revokes_the_old_token(
    admin_client, django_capture_on_commit_callbacks
):
    from unittest import mock

    conn = ConnectionFactory(
        system="infor_m3", credentials={"ci": "OLD~client", "cs": "old-secret-value"}
    )
    form = {
        "system": conn.system,
        "name": conn.name,
        "base_url": conn.base_url,
        "kind": conn.kind,
        "options": "{}",
        "new_credentials": '{"ci": "NEW~client", "cs": "new-secret-value"}',
    }

    with (
        mock.patch("connectors.infor.auth.connection_token_revoke") as revoke,
        django_capture_on_commit_callbacks(execute=True),
    ):
        admin_client.post(f"/admin/connectors/connection/{conn.pk}/change/", form)

    revoke.assert_called_once()
    assert revoke.call_args.kwargs["credentials"] == {"ci": "OLD~client", "cs": "old-secret-value"}
    assert Connection.objects.get(pk=conn.pk).credentials["ci"] == "NEW~client"
