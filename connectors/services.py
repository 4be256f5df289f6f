"""Services over connections and encrypted data."""

from django.apps import apps
from django.db import connection, transaction

from connectors.encryption import rotate_token
from connectors.fields import EncryptedJSONField


def encrypted_fields_rotate() -> dict[str, int]:
    """Re-encrypt every encrypted column with the newest key; returns rows changed per field.

    Works on the ciphertext alone (MultiFernet.rotate): nothing is decrypted into objects
    that could be logged. Each row is rewritten only if it still holds the token read, so a
    concurrent save is never overwritten with older credentials.
    """
    counts: dict[str, int] = {}
    quote = connection.ops.quote_name
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
            with transaction.atomic(), connection.cursor() as cursor:
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
