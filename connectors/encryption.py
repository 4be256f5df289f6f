"""Credential encryption at rest: MultiFernet over FIELD_ENCRYPTION_KEYS (newest first).

Encrypting always uses the newest key; decrypting tries every key, so adding a new key in
front keeps old rows readable until `manage.py rotate_credentials_key` re-encrypts them.
"""

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


class DecryptionError(Exception):
    """The stored token was not made with any of the configured keys."""


@lru_cache(maxsize=1)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: set it in the environment (or run `make demo`, "
            "which writes a .env with a fresh key)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}"
        ) from None


def get_multifernet() -> MultiFernet:
    return _multifernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


@receiver(setting_changed, dispatch_uid="connectors.encryption.reset_keys")
def _reset_keys(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _multifernet.cache_clear()


def encrypt_json(value: Any) -> str:
    return get_multifernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(get_multifernet().decrypt(token.encode()))
    except InvalidToken:
        raise DecryptionError(
            "stored credentials cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
            "was a key removed before `rotate_credentials_key` ran?"
        ) from None


def rotate_token(token: str) -> str:
    """Re-encrypt a token with the newest key (keeps its original timestamp)."""
    try:
        return get_multifernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "a stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS; "
            "keep the old key in the list until rotation has finished"
        ) from None
