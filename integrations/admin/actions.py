"""Admin actions: fetch, call one service, report. Who may run them is declared by
`permissions`, which Django maps to has_<name>_permission on the ModelAdmin."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from integrations import overrides
from integrations.models import SyncRecord
from integrations.services.records import (
    OVERRIDE_PERMISSION,
    OverrideRejected,
    sync_record_override_check,
    sync_record_retry_with_override,
    sync_records_retry,
)


@admin.action(description="Retry selected records now", permissions=["retry"])
def retry_records(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[SyncRecord]
) -> None:
    _, count = sync_records_retry(records=queryset, user=request.user)
    skipped = queryset.count() - count
    modeladmin.message_user(request, f"{count} record(s) queued for retry.", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request,
            f"{skipped} record(s) were left alone: they are pending, running or succeeded.",
            messages.WARNING,
        )


# ---------------------------------------------------------------- retry with one field overridden


class OverrideForm(forms.Form):
    """Field, new value, reason: the first step; the second shows old -> new to confirm."""

    field = forms.ChoiceField(
        label="Field",
        help_text="A value of the outgoing document (list positions count from 0).",
    )
    value = forms.CharField(label="New value", required=False, max_length=1000)
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=1000,
        help_text="Why this value is right; kept on the record with your name.",
    )

    def __init__(self, *args: Any, record: SyncRecord, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        leaves = list(overrides.leaf_paths(record.payload_out or {}))
        self.fields["field"].choices = [
            (path, f"{path} = {value!r}") for path, value in leaves if value is not None
        ] + [(path, f"{path} (empty)") for path, value in leaves if value is None]
        if not self.is_bound:
            self.initial.setdefault("field", _field_in_error(record, leaves))


def _field_in_error(record: SyncRecord, leaves: list[tuple[str, Any]]) -> str:
    """Preselect the value the error blames (e.g. ITNO 'SIM-0003' -> lines.1.ITNO)."""
    name = record.error_field.rsplit(".", 1)[-1]
    for path, _value in leaves:
        if path == record.error_field:
            return path
    for path, value in leaves:
        if path.rsplit(".", 1)[-1] == name and str(value) == record.error_value:
            return path
    return ""


def record_override_view(
    modeladmin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """GET: the form. POST: check and show old -> new; POST with "confirm": override, retry."""
    if not request.user.has_perm(OVERRIDE_PERMISSION):
        raise PermissionDenied("only an Operator may retry a record with an override")
    record = get_object_or_404(
        SyncRecord.objects.select_related(
            "integration__erp_connection", "integration__shop_connection"
        ),
        pk=object_id,
    )
    change_url = reverse("admin:integrations_syncrecord_change", args=[record.pk])
    form = OverrideForm(request.POST or None, record=record)
    check = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if "confirm" in request.POST:
                sync_record_retry_with_override(
                    record=record,
                    field=data["field"],
                    value=data["value"],
                    user=request.user,
                    reason=data["reason"],
                )
                modeladmin.message_user(
                    request,
                    f"Record {record.pk} queued for retry with {data['field']} = "
                    f"{data['value']!r}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
            check = sync_record_override_check(
                record=record, field=data["field"], value=data["value"]
            )
        except OverrideRejected as error:
            form.add_error("value" if error.field else None, str(error))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Retry record {record.pk} with one field overridden",
        "opts": SyncRecord._meta,
        "original": record,
        "form": form,
        "check": check,
        "change_url": change_url,
        "history": overrides.state_of(record.context)["history"],
        "active": overrides.state_of(record.context)["active"],
    }
    return TemplateResponse(request, "admin/integrations/syncrecord/override.html", context)
