"""Services over connections and encrypted data."""

import logging
from typing import Any

from django.apps import apps
from django.db import connection as db_connection
from django.db import transaction

from connectors.encryption import rotate_token
from connectors.errors import ConnectorError
from connectors.fields import EncryptedJSONField
from connectors.models import Connection, System

logger = logging.getLogger(__name__)


def encrypted_fields_rotate() -> dict[str, int]:
    """Re-encrypt every encrypted column with the newest key; returns rows changed per field.

    Works on the ciphertext alone (MultiFernet.rotate): nothing is decrypted into objects
    that could be logged. Each row is rewritten only if it still holds the token read, so a
    concurrent save is never overwritten with older credentials.
    """
    counts: dict[str, int] = {}
    quote = db_connection.ops.quote_name
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, EncryptedJSONField):
                continue
            table, column, pk = (
                quote(model._meta.db_table),
                quote(field.column),
                quote(model._meta.pk.column),
            )
            rotated = 0
            with transaction.atomic(), db_connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {column} FROM {table}")  # noqa: S608 (quoted names)
                for row_pk, token in cursor.fetchall():
                    if not token:
                        continue
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                        [rotate_token(token), row_pk, token],
                    )
                    rotated += cursor.rowcount
            counts[f"{model._meta.label}.{field.name}"] = rotated
    return counts


def connection_save(
    *, connection: Connection, new_credentials: dict[str, Any] | None = None
) -> Connection:
    """Save a connection; when its credentials are replaced, retire what the old ones granted.

    For Infor M3 the old service account's shared token is revoked (rotation), after commit and
    best effort: an unreachable token endpoint must not stop a person saving new credentials.
    """
    old = connection.credentials if (connection.pk and new_credentials is not None) else None
    if new_credentials is not None:
        connection.credentials = new_credentials
    connection.save()
    if old and connection.system == System.INFOR_M3:
        transaction.on_commit(lambda: _m3_token_revoke(connection, old))
    return connection


def _m3_token_revoke(connection: Connection, old_credentials: dict[str, Any]) -> None:
    from connectors.infor.auth import connection_token_revoke

    try:
        connection_token_revoke(connection, credentials=old_credentials)
    except (ConnectorError, ValueError) as exc:
        logger.warning(
            "connection %s: the old ION token could not be revoked: %s", connection.pk, exc
        )
