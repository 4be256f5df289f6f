"""EncryptedJSONField: a JSON value stored as a Fernet token, decrypted only in memory."""

from typing import Any

from django.db import models

from connectors.encryption import decrypt_json, encrypt_json
from connectors.redaction import register_secret


class EncryptedJSONField(models.TextField):
    """Stores any JSON-serialisable value encrypted; the column only ever holds ciphertext.

    Decrypted values are registered with the redaction module, so they are masked in every
    log line and stored text from then on.
    """

    description = "JSON encrypted with MultiFernet"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = kwargs.get("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return self.get_default()
        decrypted = decrypt_json(value)
        register_secret(decrypted)
        return decrypted

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_json(value)

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata, exports) carries ciphertext, never plaintext.
        return self.get_prep_value(self.value_from_object(obj)) or ""
