"""The ops console in the admin: record actions that need a note, "retry everything this error
caused", and the dashboard page. Each fetches, calls one service, reports; who may act is
declared by `permissions` (mapped to SyncRecordAdmin.has_<name>_permission)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.decorators import permission_required
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from integrations.models import Integration, Link, Status, SyncRecord
from integrations.selectors_console import (
    customer_360,
    dashboard,
    open_error_reasons,
    record_flows,
)
from integrations.selectors_console_charts import CHART_HOURS, MAX_CHART_HOURS, console_charts
from integrations.selectors_flow_view import PASSED_WINDOW, FlowPicture, flow_pictures
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
        "chart_integrations": _chart_integrations(),
        "chart_hours": CHART_HOURS,
    }
    return TemplateResponse(request, "admin/integrations/dashboard.html", context)


# ---------------------------------------------------------------- flow view and charts

# How often the flow view's page asks for fresh counts (read by static/…/flows.js); a page
# may ask for another period with ?refresh=<seconds> within the bounds.
FLOW_VIEW_REFRESH_SECONDS = 10
FLOW_VIEW_REFRESH_BOUNDS = (2, 300)


def _chart_integrations() -> list[Integration]:
    return list(Integration.objects.only("slug", "name").order_by("slug"))


def _integration_from_query(
    request: HttpRequest,
) -> tuple[Integration | None, JsonResponse | None]:
    """The ?integration=<slug> a JSON endpoint is asked for (None: all), or a 404 naming it."""
    slug = request.GET.get("integration", "").strip()
    if not slug:
        return None, None
    found = Integration.objects.only("slug", "name", "enabled_flows").filter(slug=slug).first()
    if found is None:
        message = {"message": f"no integration with slug {slug!r}", "extra": {"integration": slug}}
        return None, JsonResponse(message, status=404)
    return found, None


def _flow_json(picture: FlowPicture, records_url: str) -> dict:
    return {
        "key": picture.key,
        "integration": picture.integration_slug,
        "integration_name": picture.integration_name,
        "open": picture.open,
        "flow": picture.flow,
        "steps": [
            {
                "step": box.step,
                "label": box.label,
                "counts": {
                    kind: {"n": count.n, "url": f"{records_url}?{urlencode(count.filters)}"}
                    for kind, count in box.counts().items()
                },
            }
            for box in picture.steps
        ],
    }


def _flow_context(integration: Integration | None) -> dict:
    records_url = reverse("admin:integrations_syncrecord_changelist")
    pictures = flow_pictures(integration=integration)
    return {
        **pictures,
        "records_url": records_url,
        "flows_json": [_flow_json(p, records_url) for p in pictures["flows"]],
    }


@permission_required("integrations.view_syncrecord", raise_exception=True)
def console_flows(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Each flow of one integration (or of all) drawn as its steps with live counts."""
    integration = None
    if slug is not None:
        integration = get_object_or_404(
            Integration.objects.only("slug", "name", "enabled_flows"), slug=slug
        )
    raw_refresh = request.GET.get("refresh", str(FLOW_VIEW_REFRESH_SECONDS))
    low, high = FLOW_VIEW_REFRESH_BOUNDS
    if not (raw_refresh.isdigit() and low <= int(raw_refresh) <= high):
        # Plain text: the message quotes what was sent, which must not be read as HTML.
        return HttpResponseBadRequest(
            f"refresh must be a whole number of seconds from {low} to {high}, "
            f"not {raw_refresh[:40]!r}",
            content_type="text/plain; charset=utf-8",
        )
    data_url = reverse("console_flows_data")
    if integration is not None:
        data_url += f"?{urlencode({'integration': integration.slug})}"
    integrations = _chart_integrations()
    context = {
        **admin.site.each_context(request),
        "title": f"Flows of {integration}" if integration else "Flows",
        "integration": integration,
        "integrations": integrations,
        "chart_integrations": integrations,
        "window_hours": round(PASSED_WINDOW.total_seconds() / 3600),
        "data_url": data_url,
        "refresh_seconds": int(raw_refresh),
        "chart_hours": CHART_HOURS,
        **_flow_context(integration),
    }
    return TemplateResponse(request, "admin/integrations/flows.html", context)


@permission_required("integrations.view_syncrecord", raise_exception=True)
def console_flows_data(request: HttpRequest) -> JsonResponse:
    """The flow view's counts as JSON, for the page to refresh itself."""
    integration, error = _integration_from_query(request)
    if error is not None:
        return error
    context = _flow_context(integration)
    return JsonResponse(
        {
            "as_of": context["now"].isoformat(timespec="seconds"),
            "since": context["since"].isoformat(),
            "flows": context["flows_json"],
        }
    )


@permission_required("integrations.view_syncrecord", raise_exception=True)
def console_charts_data(request: HttpRequest) -> JsonResponse:
    """Throughput and order latency per hour as JSON (?integration=<slug>&hours=<1..168>)."""
    integration, error = _integration_from_query(request)
    if error is not None:
        return error
    raw_hours = request.GET.get("hours", str(CHART_HOURS))
    hours = int(raw_hours) if raw_hours.isdigit() else 0
    if not 1 <= hours <= MAX_CHART_HOURS:
        return JsonResponse(
            {
                "message": f"hours must be a whole number from 1 to {MAX_CHART_HOURS}, "
                f"not {raw_hours!r}",
                "extra": {"hours": raw_hours},
            },
            status=400,
        )
    return JsonResponse(console_charts(integration=integration, hours=hours))


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
        local, _, domain = term.partition("@")
        if local and "." in domain:
            # A whole address: exact, case-insensitive, on an index (migration 0008).
            email = Lower(KT("payload_in__customer__email"))
            return queryset.alias(email=email).filter(email=term.lower())
        # Part of an address ("@example.com"): every order payload is read.
        return queryset.filter(payload_in__customer__email__icontains=term)
    return queryset.filter(
        Q(reference=term)
        | Q(source_id=term)
        | Q(target_id=term)
        | Q(error_value=term, status__in=(Status.NEEDS_ATTENTION, Status.DEAD))
    )
