from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from connectors.forms import ConnectionForm
from connectors.models import Connection
from connectors.services import connection_save


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ("name", "system", "kind", "base_url", "check_status", "last_check_at")
    list_filter = ("system", "kind", "last_check_ok")
    search_fields = ("name", "base_url")
    readonly_fields = (
        "stored_credentials",
        "last_check_at",
        "last_check_ok",
        "last_check_message",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("system", "name", "base_url", "kind")}),
        ("Credentials", {"fields": ("stored_credentials", "new_credentials")}),
        ("Client options", {"fields": ("options",)}),
        ("Last check", {"fields": ("last_check_at", "last_check_ok", "last_check_message")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def save_model(
        self, request: HttpRequest, obj: Connection, form: ConnectionForm, change: bool
    ) -> None:
        connection_save(connection=obj, new_credentials=form.cleaned_data.get("new_credentials"))

    @admin.display(description="Stored credentials")
    def stored_credentials(self, obj: Connection) -> str:
        names = obj.credential_names if obj.pk else []
        if not names:
            return "none stored"
        return "stored, encrypted: " + ", ".join(names)

    @admin.display(description="Check", ordering="last_check_ok")
    def check_status(self, obj: Connection) -> str:
        if obj.last_check_ok is None:
            return "—"
        return format_html(
            '<span title="{}">{}</span>',
            obj.last_check_message,
            "ok" if obj.last_check_ok else "failing",
        )
