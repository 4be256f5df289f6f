from django.contrib import admin
from django.http import HttpRequest

from integrations.admin.actions import retry_records
from integrations.admin.display import pretty_json
from integrations.models import Integration, Link, PollCursor, SyncAttempt, SyncRecord, WebhookEvent


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
        ("Flows", {"fields": ("enabled_flows", "base_currency")}),
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
    )
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


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
    list_filter = ("status", "flow", "integration", "step", "error_class", "direction")
    search_fields = (
        "reference",
        "source_id",
        "target_id",
        "idempotency_key",
        "error_message",
        "error_value",
    )
    date_hierarchy = "created_at"
    list_select_related = ("integration",)
    actions = [retry_records]
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
        (
            "Payloads",
            {
                "fields": (
                    "payload_in_pretty",
                    "payload_out_pretty",
                    "context_pretty",
                    "timings_pretty",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records come from triggers, never typed in

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # changes go through actions, which keep the history honest

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.retry_syncrecord")

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
