"""The ops console in the admin: record actions that need a note, "retry everything this error
caused", and the dashboard page. Each fetches, calls one service, reports; who may act is
declared by `permissions` (mapped to SyncRecordAdmin.has_<name>_permission)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.decorators import permission_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from integrations.models import Link, Status, SyncRecord
from integrations.selectors_console import (
    customer_360,
    dashboard,
    open_error_reasons,
    record_flows,
)
from integrations.services.console import sync_records_close, sync_records_retry_same_error


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="What was done, or why the record is given up. Kept on each record.",
    )


def _close(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[SyncRecord],
    *,
    skip: bool,
) -> TemplateResponse | None:
    verb = "skip" if skip else "resolve"
    form = NoteForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done, errors = sync_records_close(
            records=queryset, note=form.cleaned_data["note"], skip=skip, user=request.user
        )
        for error in errors:
            modeladmin.message_user(request, error, messages.ERROR)
        if done:
            modeladmin.message_user(
                request, f"{done} record(s) {verb}{'ped' if skip else 'd'}.", messages.SUCCESS
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{verb.capitalize()} {queryset.count()} record(s)",
        "verb": verb,
        "form": form,
        "records": queryset[:50],
        "count": queryset.count(),
        "action": request.POST.get("action"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/integrations/syncrecord/note_form.html", context)


@admin.action(
    description="Resolve selected records (fixed by hand; a note is required)",
    permissions=["resolve"],
)
def resolve_records(modeladmin, request, queryset):
    return _close(modeladmin, request, queryset, skip=False)


@admin.action(description="Skip selected records (a note is required)", permissions=["resolve"])
def skip_records(modeladmin, request, queryset):
    return _close(modeladmin, request, queryset, skip=True)


@admin.action(
    description="Retry every open record with the same error as the selected",
    permissions=["retry"],
)
def retry_same_error(modeladmin, request, queryset) -> None:
    count = sync_records_retry_same_error(records=queryset, user=request.user)
    modeladmin.message_user(
        request,
        f"{count} record(s) with the same error queued for retry.",
        messages.SUCCESS if count else messages.WARNING,
    )


CONSOLE_ACTIONS = [retry_same_error, resolve_records, skip_records]


@permission_required("integrations.view_syncrecord", raise_exception=True)
def console_dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        **dashboard(),
    }
    return TemplateResponse(request, "admin/integrations/dashboard.html", context)


@permission_required("integrations.view_link", raise_exception=True)
def console_customer(request: HttpRequest, link_id: int) -> HttpResponse:
    link = get_object_or_404(Link.objects.select_related("integration"), pk=link_id)
    if link.entity != "customer":
        raise Http404("not a customer link")
    context = {
        **admin.site.each_context(request),
        "title": f"Customer {link.shop_id} ⇄ {link.erp_id}",
        **customer_360(link=link),
    }
    return TemplateResponse(request, "admin/integrations/customer_360.html", context)


# ---------------------------------------------------------------- the record list on a big table


class FlowFilter(admin.SimpleListFilter):
    """Flows from the integrations' settings, not SELECT DISTINCT over every record."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request, model_admin):
        return [(flow, flow) for flow in record_flows()]

    def queryset(self, request, queryset):
        return queryset.filter(flow=self.value()) if self.value() else queryset


class ErrorReasonFilter(admin.SimpleListFilter):
    """Error reasons (class and field) of the records that wait for a person: a few thousand
    rows read through the status index, where DISTINCT over all records reads them all.
    Links from the dashboard use the plain error_class / error_field lookups."""

    title = "error reason"
    parameter_name = "error"
    SEPARATOR = " @ "

    def lookups(self, request, model_admin):
        return [
            (f"{cls}{self.SEPARATOR}{field}", f"{cls} @ {field}" if field else cls)
            for cls, field in open_error_reasons()
        ]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        cls, _, field = self.value().partition(self.SEPARATOR)
        return queryset.filter(error_class=cls, error_field=field)


def record_search(queryset: QuerySet[SyncRecord], term: str) -> QuerySet[SyncRecord]:
    """Exact shop reference, shop id or ERP number (indexed), or SKU in error among the records
    that need a person; a term with an @ searches the customer e-mail in the order payload."""
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        return queryset.filter(payload_in__customer__email__icontains=term)
    return queryset.filter(
        Q(reference=term)
        | Q(source_id=term)
        | Q(target_id=term)
        | Q(error_value=term, status__in=(Status.NEEDS_ATTENTION, Status.DEAD))
    )
