from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from connectors.forms import ConnectionForm
from connectors.models import Connection, System
from connectors.services import connection_save

# Shown on the connection page: what ops must know about each system before configuring it.
SYSTEM_NOTES = {
    System.PRESTASHOP: 'Webservice key as credentials: {"api_key": "…"}; options: version, '
    "timezone, id_shop. The connection check compares the key's permissions with the flows' "
    "needs.",
    System.INFOR_M3: 'Upload the .ionapi file\'s content as credentials (cloud), or {"username", '
    '"password"} for on-premises m3api-rest; options: cono, divi, customer_template.',
    System.TIMS: "ASSUMED INTERFACE: TIMS publishes no API. The default paths, auth mode, paging, "
    'field names and file layouts are our own design, not TIMS\'s. Point options["profile"] '
    '(and options["files"]) at the real installation; see connectors/tims/README.md.',
}


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ("name", "system", "kind", "base_url", "check_status", "last_check_at")
    list_filter = ("system", "kind", "last_check_ok")
    search_fields = ("name", "base_url")
    readonly_fields = (
        "about_system",
        "stored_credentials",
        "last_check_at",
        "last_check_ok",
        "last_check_message",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("system", "name", "base_url", "kind", "about_system")}),
        ("Credentials", {"fields": ("stored_credentials", "new_credentials")}),
        ("Client options", {"fields": ("options",)}),
        ("Last check", {"fields": ("last_check_at", "last_check_ok", "last_check_message")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def save_model(
        self, request: HttpRequest, obj: Connection, form: ConnectionForm, change: bool
    ) -> None:
        connection_save(connection=obj, new_credentials=form.cleaned_data.get("new_credentials"))

    @admin.display(description="About this system")
    def about_system(self, obj: Connection) -> str:
        return SYSTEM_NOTES.get(obj.system, "") if obj.pk else ""

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
