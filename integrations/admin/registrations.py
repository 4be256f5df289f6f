from functools import partial

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import path, reverse

from integrations import overrides
from integrations.admin.actions import record_override_view, retry_records
from integrations.admin.conflicts import ORDER_ACTIONS
from integrations.admin.console import (
    CONSOLE_ACTIONS,
    ErrorReasonFilter,
    FlowFilter,
    record_search,
)
from integrations.admin.display import pretty_json
from integrations.models import (
    EventDelivery,
    EventDeliveryAttempt,
    EventRoute,
    EventSubscription,
    Integration,
    Link,
    PollCursor,
    SyncAttempt,
    SyncRecord,
    WebhookEvent,
)
from integrations.services.records import OVERRIDE_PERMISSION, OVERRIDE_STATUSES
from integrations.subscriptions.event_types import EVENT_TYPES
from integrations.subscriptions.signing import secret_generate


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "shop_connection",
        "erp_connection",
        "flows",
        "is_active",
        "retry_limit",
    )
    list_filter = ("is_active", "erp_connection__system")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("webhook_sources", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("slug", "name", "is_active", "shop_connection", "erp_connection")}),
        ("Flows", {"fields": ("enabled_flows", "base_currency", "options")}),
        ("Retries", {"fields": ("retry_limit", "backoff_base_seconds", "backoff_cap_seconds")}),
        ("Webhooks", {"fields": ("webhook_sources",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Enabled flows")
    def flows(self, obj: Integration) -> str:
        return ", ".join(obj.enabled_flows or []) or "—"

    @admin.display(description="Webhook secrets")
    def webhook_sources(self, obj: Integration) -> str:
        secrets = obj.webhook_secrets if obj.pk else {}
        if not secrets:
            return "none stored"
        return "; ".join(
            f"{source}: {len(values)} active" for source, values in sorted(secrets.items())
        )


class SyncAttemptInline(admin.TabularInline):
    model = SyncAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "outcome",
        "step",
        "started_at",
        "duration_ms",
        "error_class",
        "error_message",
        "error_field",
        "error_value",
        "retry_at",
        "worker",
        "override_used",
    )
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("record")

    @admin.display(description="Override")
    def override_used(self, obj: SyncAttempt) -> str:
        """The values an operator's override put in this attempt's outgoing document."""
        fields = overrides.attempt_overrides(obj.record.context).get(obj.number)
        if not fields:
            return "—"
        return "; ".join(f"{name} = {value}" for name, value in fields.items())


@admin.register(SyncRecord)
class SyncRecordAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "integration",
        "flow",
        "reference_or_id",
        "status",
        "step",
        "attempts",
        "next_attempt_at",
        "error_summary",
        "updated_at",
    )
    # No AllValuesFieldListFilter here: each is a SELECT DISTINCT over the whole table.
    list_filter = (
        "integration",
        FlowFilter,
        "status",
        ErrorReasonFilter,
        "step",
        "direction",
        ("created_at", admin.DateFieldListFilter),
    )
    # Searched by record_search (get_search_results): indexed exact matches, e-mail with an @.
    search_fields = ("reference",)
    search_help_text = (
        "Exact shop reference, shop id, ERP order number, or SKU in error; a term with an @ "
        "searches the customer's e-mail."
    )
    # No date_hierarchy: its SELECT DISTINCT date_trunc(...) reads every record (250 ms at a
    # million); the created_at filter above covers the same need through its index.
    list_select_related = ("integration",)
    show_full_result_count = False  # one COUNT(*) per page, not two, on a large table
    actions = [retry_records, *CONSOLE_ACTIONS, *ORDER_ACTIONS]
    inlines = [SyncAttemptInline]
    readonly_fields = (
        "integration",
        "flow",
        "direction",
        "source_system",
        "source_id",
        "reference",
        "idempotency_key",
        "status",
        "step",
        "attempts",
        "failures",
        "next_attempt_at",
        "enqueued_at",
        "claimed_by",
        "claim_expires_at",
        "target_id",
        "error_class",
        "error_message",
        "error_field",
        "error_value",
        "resolution_note",
        "payload_in_pretty",
        "payload_out_pretty",
        "context_pretty",
        "timings_pretty",
        "override_history",
        "created_at",
        "updated_at",
        "finished_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "integration",
                    "flow",
                    "direction",
                    "source_system",
                    "source_id",
                    "reference",
                    "idempotency_key",
                    "target_id",
                )
            },
        ),
        (
            "State",
            {
                "fields": (
                    "status",
                    "step",
                    "attempts",
                    "failures",
                    "next_attempt_at",
                    "enqueued_at",
                    "claimed_by",
                    "claim_expires_at",
                    "finished_at",
                )
            },
        ),
        (
            "Error",
            {
                "fields": (
                    "error_class",
                    "error_message",
                    "error_field",
                    "error_value",
                    "resolution_note",
                )
            },
        ),
        # Payloads in and out are shown side by side by the change_form template override.
        ("Overrides", {"fields": ("override_history",)}),
        ("Flow state", {"fields": ("context_pretty", "timings_pretty")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records come from triggers, never typed in

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # changes go through actions, which keep the history honest

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.retry_syncrecord")

    def get_urls(self):
        view = self.admin_site.admin_view(partial(record_override_view, self))
        return [
            path("<path:object_id>/override/", view, name="integrations_syncrecord_override"),
            *super().get_urls(),
        ]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        return record_search(queryset, search_term), False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.resolve_syncrecord")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        record = self.get_object(request, object_id)
        extra = {
            "record_links": Link.objects.filter(record_id=object_id).select_related("integration")
            if record
            else [],
            "payload_in_pretty": pretty_json(record.payload_in) if record else "",
            "payload_out_pretty": pretty_json(record.payload_out) if record else "",
            # The "Override a field and retry" button (change_form_object_tools.html).
            "can_override": bool(
                record
                and record.status in OVERRIDE_STATUSES
                and record.payload_out
                and not record.target_id
                and request.user.has_perm(OVERRIDE_PERMISSION)
            ),
            "override_url": reverse("admin:integrations_syncrecord_override", args=[record.pk])
            if record
            else "",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.display(description="Reference", ordering="reference")
    def reference_or_id(self, obj: SyncRecord) -> str:
        return obj.reference or obj.source_id

    @admin.display(description="Error")
    def error_summary(self, obj: SyncRecord) -> str:
        return (
            (obj.error_message[:120] + "…") if len(obj.error_message) > 120 else obj.error_message
        )

    @admin.display(description="Payload in")
    def payload_in_pretty(self, obj: SyncRecord) -> str:
        return pretty_json(obj.payload_in)

    @admin.display(description="Payload out")
    def payload_out_pretty(self, obj: SyncRecord) -> str:
        return pretty_json(obj.payload_out)

    @admin.display(description="Flow state")
    def context_pretty(self, obj: SyncRecord) -> str:
        return pretty_json(obj.context)

    @admin.display(description="Override history")
    def override_history(self, obj: SyncRecord) -> str:
        state = overrides.state_of(obj.context)
        return render_to_string(
            "admin/integrations/syncrecord/override_history.html",
            {"active": state["active"], "history": state["history"]},
        )

    @admin.display(description="Timings (ms)")
    def timings_pretty(self, obj: SyncRecord) -> str:
        return pretty_json(obj.timings)


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ("integration", "entity", "shop_id", "erp_id", "created_at")
    list_filter = ("integration", "entity")
    search_fields = ("shop_id", "erp_id")
    raw_id_fields = ("record",)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("id", "integration", "source", "event_type", "event_id", "state", "received_at")
    list_filter = ("state", "source", "integration", "event_type")
    search_fields = ("event_id", "event_type")
    readonly_fields = (
        "integration",
        "source",
        "event_id",
        "event_type",
        "headers_pretty",
        "body",
        "state",
        "error",
        "received_at",
        "processed_at",
    )
    exclude = ("headers",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Headers")
    def headers_pretty(self, obj: WebhookEvent) -> str:
        return pretty_json(obj.headers)


@admin.register(PollCursor)
class PollCursorAdmin(admin.ModelAdmin):
    list_display = (
        "integration",
        "stream",
        "value",
        "last_run_at",
        "last_success_at",
        "last_error",
    )
    list_filter = ("integration",)
    search_fields = ("stream",)


# ---------------------------------------------------------------- events in and out


@admin.register(EventRoute)
class EventRouteAdmin(admin.ModelAdmin):
    list_display = ("integration", "source", "event_type", "flow")
    list_filter = ("integration", "source")
    search_fields = ("event_type", "flow")


class EventSubscriptionForm(forms.ModelForm):
    """The signing secret is write-only: generated on creation, replaced on request."""

    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    new_secret = forms.CharField(
        label="Signing secret",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="whsec_… (Standard Webhooks). Leave blank to keep the stored one; a new "
        "subscription without one gets a generated secret. Never shown again.",
    )

    class Meta:
        model = EventSubscription
        fields = ["name", "integration", "url", "event_types", "is_active"]

    def clean_new_secret(self) -> str:
        value = self.cleaned_data.get("new_secret", "").strip()
        if value and not value.startswith("whsec_"):
            raise forms.ValidationError("A Standard Webhooks secret starts with whsec_.")
        return value

    def save(self, commit: bool = True) -> EventSubscription:
        subscription = super().save(commit=False)
        new = self.cleaned_data.get("new_secret")
        if new or not (subscription.secret or {}).get("secret"):
            subscription.secret = {"secret": new or secret_generate()}
        if commit:
            subscription.save()
        return subscription


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    form = EventSubscriptionForm
    list_display = ("name", "integration", "url", "types", "is_active", "updated_at")
    list_filter = ("is_active", "integration")
    search_fields = ("name", "url")

    @admin.display(description="Event types")
    def types(self, obj: EventSubscription) -> str:
        return ", ".join(obj.event_types or []) or "—"


class EventDeliveryAttemptInline(admin.TabularInline):
    model = EventDeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "response_code",
        "error",
        "request_headers_pretty",
        "response_body",
    )
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Request headers")
    def request_headers_pretty(self, obj: EventDeliveryAttempt) -> str:
        return pretty_json(obj.request_headers)


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subscription",
        "event_type",
        "state",
        "attempts",
        "last_response_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "event_type", "subscription")
    search_fields = ("message_id", "event_type", "last_error")
    list_select_related = ("subscription",)
    inlines = [EventDeliveryAttemptInline]
    readonly_fields = (
        "subscription",
        "integration",
        "message_id",
        "event_type",
        "payload_pretty",
        "state",
        "attempts",
        "next_attempt_at",
        "last_response_code",
        "last_error",
        "created_at",
        "delivered_at",
    )
    exclude = ("payload", "claim_expires_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Payload")
    def payload_pretty(self, obj: EventDelivery) -> str:
        return pretty_json(obj.payload)
