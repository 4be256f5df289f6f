"""Misconfiguration surfaces at startup (`manage.py check`), not at the first sync."""

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is empty, so connection credentials cannot be stored.",
                hint="Set FIELD_ENCRYPTION_KEYS to one or more Fernet keys, newest first "
                "(`make demo` writes a .env with a fresh one).",
                id="connectors.E001",
            )
        ]
    errors = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS entry {position} is not a valid Fernet key.",
                    hint="A key is 32 url-safe base64-encoded bytes: Fernet.generate_key().",
                    id="connectors.E002",
                )
            )
    return errors
