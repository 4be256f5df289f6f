"""The Connection form: credentials are write-only.

The stored value is never rendered back into the page; a new value replaces it whole, and a
blank field keeps what is stored.
"""

import json
from typing import Any

from django import forms

from connectors.models import Connection
from connectors.services import connection_save


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value, not even the one just submitted (as PasswordInput does)."""

    def format_value(self, value: Any) -> None:
        return None


class ConnectionForm(forms.ModelForm):
    base_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="e.g. https://shop.example.com/api"
    )
    new_credentials = forms.CharField(
        label="Credentials",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            'A JSON object, e.g. {"api_key": "…"} for PrestaShop or the .ionapi file\'s content '
            "for Infor M3. Leave blank to keep the stored credentials; they are never shown."
        ),
    )

    class Meta:
        model = Connection
        fields = ["system", "name", "base_url", "kind", "options"]

    def clean_new_credentials(self) -> dict[str, Any] | None:
        text = self.cleaned_data.get("new_credentials", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            # The message quotes the position only: echoing the text would echo the secret.
            raise forms.ValidationError(
                f"Credentials must be a JSON object: invalid JSON at line {exc.lineno}, "
                f"column {exc.colno}."
            ) from None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError("Credentials must be a non-empty JSON object.")
        return value

    def save(self, commit: bool = True) -> Connection:
        connection = super().save(commit=False)
        if commit:
            connection_save(
                connection=connection, new_credentials=self.cleaned_data.get("new_credentials")
            )
        return connection
