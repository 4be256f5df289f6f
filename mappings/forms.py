"""Admin forms: catalog-aware choices, and the preview form."""

import json
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join

from mappings import catalogs
from mappings.models import MappingSet


class DatalistInput(forms.TextInput):
    """A text input that suggests values (free text stays allowed: a catalog may be missing)."""

    def __init__(self, options: list[tuple[str, str]], attrs: dict | None = None) -> None:
        super().__init__(attrs)
        self.options = options

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None):
        list_id = f"{(attrs or {}).get('id', name)}_list"
        attrs = {**(attrs or {}), "list": list_id}
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">{}</option>', self.options)
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


class MappingSetForm(forms.ModelForm):
    class Meta:
        model = MappingSet
        fields = (
            "name",
            "integration",
            "entity",
            "direction",
            "active",
            "target_system",
            "operation",
            "description",
            "preview_context",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = [
            (c.operation, f"{c.system}: {c.description or c.operation}")
            for c in catalogs.all_catalogs()
        ]
        if "operation" in self.fields:
            self.fields["operation"].widget = DatalistInput(options, attrs={"size": 40})

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        system, operation = data.get("target_system"), data.get("operation")
        known = [c.operation for c in catalogs.all_catalogs() if c.system == system]
        if system and operation and known and operation not in known:
            self.add_error(
                "operation",
                f"{system} has no operation {operation!r}; known: {', '.join(known)}.",
            )
        return data


def target_field_choices(mapping_set: MappingSet | None) -> list[tuple[str, str]]:
    catalog = mapping_set.catalog if mapping_set is not None else None
    return [("", "---------"), *catalogs.field_choices(catalog)] if catalog else []


class PreviewForm(forms.Form):
    record = forms.ChoiceField(
        required=False,
        help_text="A stored sync record: its source document (payload in) is mapped.",
    )
    document = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "spellcheck": "false"}),
        help_text="Or paste a canonical document as JSON (it wins over the record).",
    )
    context = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "spellcheck": "false"}),
        help_text="What the flow supplies at run time, as JSON (defaults to the set's "
        "preview context).",
    )
    # Unsaved edits posted from the change form, carried between previews as JSON.
    draft = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, records: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["record"].choices = [("", "— pick a record —"), *records]

    def clean_document(self) -> Any:
        return _json(self.cleaned_data["document"], "document")

    def clean_draft(self) -> Any:
        value = _json(self.cleaned_data["draft"], "draft")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("The draft must be a JSON object.")
        return value

    def clean_context(self) -> Any:
        value = _json(self.cleaned_data["context"], "context")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("The context must be a JSON object.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("record") and data.get("document") is None and not self.errors:
            raise forms.ValidationError("Pick a record or paste a document.")
        return data


def _json(text: str, name: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(
            f"The {name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
