"""Admin for the mappings: edit (with catalog choices), preview on real records, promote.

The workflow: copy a set as a draft (or install the defaults), edit it, preview it on stored
records and dry-run it over the last N, then promote it (it becomes the integration's active
set for that entity). Every change is in the history (django-simple-history), with revert.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin

from mappings import catalogs, transforms
from mappings.forms import MappingSetForm, PreviewForm, target_field_choices
from mappings.models import (
    CurrencyRate,
    FieldMapping,
    MappingSet,
    Rule,
    ValueMap,
    ValueMapEntry,
)
from mappings.preview import dry_run, preview, preview_definition
from mappings.resources import CurrencyRateResource, ValueMapEntryResource
from mappings.selectors import recent_records
from mappings.services import mapping_set_copy, mapping_set_promote
from mappings.suggestions import field_mapping_accept, mapping_set_suggestions

# Records offered in the preview's picker, and the default dry-run size.
PREVIEW_RECORD_CHOICES = 30
DRY_RUN_DEFAULT = 50
DRY_RUN_MAX = 1000

FILE_FORMATS = [f for f in (CSV, XLSX) if f().is_available()]


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 1
    ordering = ("position", "id")
    fields = (
        "position",
        "target_field",
        "source",
        "transforms",
        "default",
        "required",
        "condition",
        "note",
        "owner",
    )

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in ("source", "transforms", "condition"):
            kwargs["widget"] = forms.TextInput(attrs={"size": 30, "spellcheck": "false"})
        elif db_field.name in ("default", "note"):
            kwargs["widget"] = forms.TextInput(attrs={"size": 12})
        elif db_field.name == "position":
            kwargs["widget"] = forms.NumberInput(attrs={"style": "width: 4em"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_formset(self, request: HttpRequest, obj: MappingSet | None = None, **kwargs: Any):
        formset = super().get_formset(request, obj, **kwargs)
        choices = target_field_choices(obj)
        if choices:
            formset.form.base_fields["target_field"] = forms.ChoiceField(
                choices=choices, help_text="Fields of the target's catalog."
            )
        return formset


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    ordering = ("position", "id")
    fields = ("position", "name", "condition", "assignments", "mode", "active")


@admin.action(description="Promote: make the active set of its integration", permissions=["change"])
def promote(modeladmin: "MappingSetAdmin", request: HttpRequest, queryset: QuerySet) -> None:
    for mapping_set in queryset:
        if mapping_set.integration_id is None:
            modeladmin.message_user(
                request,
                f"{mapping_set.name}: a template cannot run; copy it to an integration first.",
                messages.ERROR,
            )
            continue
        mapping_set_promote(mapping_set=mapping_set)
        modeladmin.message_user(request, f"{mapping_set.name} is now active.", messages.SUCCESS)


@admin.action(description="Copy as a draft (inactive)", permissions=["add"])
def copy_as_draft(modeladmin: "MappingSetAdmin", request: HttpRequest, queryset: QuerySet) -> None:
    for mapping_set in queryset:
        copy = mapping_set_copy(mapping_set=mapping_set)
        modeladmin.message_user(request, f"Created draft {copy.name!r}.", messages.SUCCESS)


@admin.register(MappingSet)
class MappingSetAdmin(SimpleHistoryAdmin):
    form = MappingSetForm
    list_display = (
        "name",
        "integration",
        "entity",
        "target_system",
        "operation",
        "active",
        "version",
        "updated_at",
    )
    list_filter = ("active", "entity", "target_system", "integration")
    search_fields = ("name", "operation", "fields__target_field", "fields__source")
    readonly_fields = ("version", "created_at", "updated_at", "suggest_link")
    inlines = (FieldMappingInline, RuleInline)
    actions = (promote, copy_as_draft)
    save_on_top = True
    fieldsets = (
        (None, {"fields": ("name", "integration", "entity", "direction", "active")}),
        ("Target", {"fields": ("target_system", "operation")}),
        (
            "Notes and preview",
            {"fields": ("description", "preview_context", "version", "created_at", "updated_at")},
        ),
        ("Assistant", {"fields": ("suggest_link",)}),
    )

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="mappings_mappingset_preview"),
            path("<int:pk>/dry-run/", wrap(self.dry_run_view), name="mappings_mappingset_dry_run"),
            path("<int:pk>/suggest/", wrap(self.suggest_view), name="mappings_mappingset_suggest"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        mapping_set = self.get_object(request, object_id)
        catalog = mapping_set.catalog if mapping_set is not None else None
        if mapping_set is not None and catalog is None and request.method == "GET":
            messages.warning(
                request,
                f"No connector publishes a catalog for {mapping_set.target_system} "
                f"{mapping_set.operation!r}: target fields and values are not checked.",
            )
        extra = {
            **(extra_context or {}),
            "catalog": catalog,
            "catalog_fields": [
                (f, catalogs.describe_field(f.name, catalog)) for f in catalog.fields
            ]
            if catalog
            else [],
            "transform_help": transforms.describe_all(),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _set_or_404(self, request: HttpRequest, pk: int) -> MappingSet:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(MappingSet.objects.select_related("integration"), pk=pk)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        mapping_set = self._set_or_404(request, pk)
        records = {str(r.pk): r for r in recent_records(mapping_set, limit=PREVIEW_RECORD_CHOICES)}
        choices = [
            (key, f"#{r.pk} {r.flow} {r.reference or r.source_id} [{r.status}]")
            for key, r in records.items()
        ]
        initial = {
            "context": json.dumps(mapping_set.preview_context or {}),
            "record": request.GET.get("record") or next(iter(records), ""),
        }
        result, draft, draft_errors = None, None, []
        if request.method == "POST" and "_preview_draft" in request.POST:
            # Posted by the change form's "Preview unsaved changes": nothing is saved.
            if not self.has_change_permission(request, mapping_set):
                raise PermissionDenied
            draft, draft_errors = self._draft_from_change_form(request, mapping_set)
            form = PreviewForm(
                records=choices,
                initial={
                    **initial,
                    "draft": json.dumps(draft) if draft else "",
                    "context": json.dumps((draft or {}).get("preview_context") or {}),
                },
            )
            if draft is not None and initial["record"]:
                record = records[initial["record"]]
                result = preview_definition(draft, record.payload_in)
        else:
            form = PreviewForm(request.POST or None, records=choices, initial=initial)
            if request.method == "POST" and form.is_valid():
                document = form.cleaned_data["document"]
                if document is None:
                    document = records[form.cleaned_data["record"]].payload_in
                draft = form.cleaned_data["draft"]
                context = form.cleaned_data["context"]
                if draft is not None:
                    result = preview_definition(draft, document, context=context)
                else:
                    result = preview(mapping_set, document, context=context)
        single = result is not None and len(result.outputs) == 1
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": mapping_set,
            "title": f"Preview: {mapping_set.name}",
            "form": form,
            "result": result,
            "draft": draft,
            "draft_errors": draft_errors,
            "source_json": _pretty(result.source) if result else "",
            "output_json": _pretty(result.outputs[0] if single else result.outputs)
            if result
            else "",
            "change_url": reverse("admin:mappings_mappingset_change", args=[mapping_set.pk]),
            "dry_run_url": reverse("admin:mappings_mappingset_dry_run", args=[mapping_set.pk]),
        }
        return TemplateResponse(request, "admin/mappings/mappingset/preview.html", context)

    def _draft_from_change_form(
        self, request: HttpRequest, mapping_set: MappingSet
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """The change form's unsaved edits as a definition (export format), or the errors.

        The admin's own form and inline formsets validate the post, so a draft is checked
        exactly as a save would be; nothing is written.
        """
        form_class = self.get_form(request, mapping_set, change=True)
        form = form_class(request.POST, request.FILES, instance=mapping_set)
        errors = [f"{name}: {' '.join(messages)}" for name, messages in form.errors.items()]
        formsets, _ = self._create_formsets(request, form.instance, change=True)
        fields, rules = [], []
        for formset in formsets:
            if not formset.is_valid():
                errors.extend(f"{formset.prefix}: {e}" for e in formset.non_form_errors())
                for number, row_errors in enumerate(formset.errors, start=1):
                    errors.extend(
                        f"{formset.prefix} row {number}, {name}: {' '.join(messages)}"
                        for name, messages in row_errors.items()
                    )
                continue
            for index, row in enumerate(formset.forms):
                data = row.cleaned_data
                if not data or data.get("DELETE"):
                    continue
                order = (data.get("position") or 0, index)
                if formset.model is FieldMapping:
                    fields.append((order, _field_spec(data)))
                elif formset.model is Rule:
                    rules.append((order, _rule_spec(data)))
        if errors:
            return None, errors
        draft_set = form.instance
        return {
            "name": draft_set.name,
            "entity": draft_set.entity,
            "direction": draft_set.direction,
            "target_system": draft_set.target_system,
            "operation": draft_set.operation,
            "preview_context": draft_set.preview_context or {},
            "fields": [spec for _, spec in sorted(fields, key=lambda item: item[0])],
            "rules": [spec for _, spec in sorted(rules, key=lambda item: item[0])],
        }, []

    def dry_run_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        mapping_set = self._set_or_404(request, pk)
        try:
            limit = min(max(int(request.GET.get("limit", DRY_RUN_DEFAULT)), 1), DRY_RUN_MAX)
        except ValueError:
            limit = DRY_RUN_DEFAULT
        report = dry_run(mapping_set, limit=limit, flow=request.GET.get("flow", ""))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": mapping_set,
            "title": f"Dry run: {mapping_set.name}",
            "report": report,
            "limit": limit,
            "reasons": [
                (reason, count, report.examples.get(reason, []))
                for reason, count in report.reasons.most_common()
            ],
            "change_url": reverse("admin:mappings_mappingset_change", args=[mapping_set.pk]),
            "preview_url": reverse("admin:mappings_mappingset_preview", args=[mapping_set.pk]),
        }
        return TemplateResponse(request, "admin/mappings/mappingset/dry_run.html", context)

    @admin.display(description="Suggestions")
    def suggest_link(self, obj: MappingSet | None) -> str:
        if obj is None or obj.pk is None:
            return "Save the set first; then the assistant suggests sources for unmapped fields."
        url = reverse("admin:mappings_mappingset_suggest", args=[obj.pk])
        return format_html(
            '<a href="{}" id="mapping-suggest-link">Suggest sources for unmapped fields</a>'
            " (ranked by name, value shape and what other sets map; one click adds a row)",
            url,
        )

    def suggest_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        mapping_set = self._set_or_404(request, pk)
        suggest_url = reverse("admin:mappings_mappingset_suggest", args=[mapping_set.pk])
        if request.method == "POST":
            if not self.has_change_permission(request, mapping_set):
                raise PermissionDenied
            target_field = request.POST.get("target_field", "")
            source = request.POST.get("source", "")
            try:
                score = float(request.POST.get("score", ""))
            except ValueError:
                score = None
            try:
                row = field_mapping_accept(
                    mapping_set=mapping_set, target_field=target_field, source=source, score=score
                )
            except ValidationError as exc:
                messages.error(request, f"{target_field} ← {source}: {'; '.join(exc.messages)}")
            else:
                messages.success(request, f"Mapped {row.target_field} from {row.source}.")
            return redirect(suggest_url)
        found, origin = mapping_set_suggestions(mapping_set=mapping_set)
        catalog = mapping_set.catalog
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": mapping_set,
            "title": f"Suggestions: {mapping_set.name}",
            "origin": origin,
            "has_catalog": catalog is not None,
            "rows": [
                (name, catalogs.describe_field(name, catalog) if catalog else name, found[name])
                for name in found
            ],
            "can_accept": self.has_change_permission(request, mapping_set),
            "suggest_url": suggest_url,
            "change_url": reverse("admin:mappings_mappingset_change", args=[mapping_set.pk]),
        }
        return TemplateResponse(request, "admin/mappings/mappingset/suggest.html", context)


@admin.register(FieldMapping)
class FieldMappingAdmin(SimpleHistoryAdmin):
    list_display = ("target_field", "mapping_set", "source", "transforms", "owner", "position")
    list_filter = ("mapping_set", "owner")
    search_fields = ("target_field", "source", "transforms")
    list_select_related = ("mapping_set",)


@admin.register(Rule)
class RuleAdmin(SimpleHistoryAdmin):
    list_display = ("name", "mapping_set", "condition", "mode", "active", "position")
    list_filter = ("active", "mapping_set")
    search_fields = ("name", "condition")
    list_select_related = ("mapping_set",)


class ValueMapEntryInline(admin.TabularInline):
    model = ValueMapEntry
    extra = 1
    fields = ("source_value", "target_value", "note")


@admin.register(ValueMap)
class ValueMapAdmin(SimpleHistoryAdmin):
    list_display = ("name", "description", "has_fallback", "fallback", "updated_at")
    search_fields = ("name", "description", "entries__source_value", "entries__target_value")
    inlines = (ValueMapEntryInline,)


@admin.register(ValueMapEntry)
class ValueMapEntryAdmin(ImportExportMixin, SimpleHistoryAdmin):
    resource_classes = (ValueMapEntryResource,)
    formats = FILE_FORMATS
    list_display = ("value_map", "source_value", "target_value", "note")
    list_filter = ("value_map",)
    search_fields = ("source_value", "target_value", "note")
    list_select_related = ("value_map",)


@admin.register(CurrencyRate)
class CurrencyRateAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = (CurrencyRateResource,)
    formats = FILE_FORMATS
    list_display = ("date", "from_currency", "to_currency", "rate", "source")
    list_filter = ("from_currency", "to_currency")
    date_hierarchy = "date"


def _field_spec(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "target": data["target_field"],
        **{
            key: data.get(key) or default
            for key, default in (
                ("source", ""),
                ("transforms", ""),
                ("default", ""),
                ("required", False),
                ("condition", ""),
                ("note", ""),
            )
        },
    }


def _rule_spec(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "condition": data["condition"],
        "assignments": data.get("assignments") or {},
        "mode": data.get("mode") or "set",
        "active": bool(data.get("active")),
    }


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, cls=DjangoJSONEncoder, ensure_ascii=False)
