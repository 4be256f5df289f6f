from functools import partial

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from connectors.forms import ConnectionForm
from connectors.models import Connection, System
from connectors.services import ConnectionTestResult, connection_save, connection_test

# Who may test a connection: who may edit it (Integration admin, superuser). A test calls the
# remote system with the stored credentials.
TEST_PERMISSION = "connectors.change_connection"
# Connections one action tests at once (each is several remote calls, made in the request).
TEST_BATCH = 10


def _results_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    tested: list[tuple[Connection, ConnectionTestResult]],
) -> TemplateResponse:
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Connection test" if len(tested) == 1 else f"{len(tested)} connection tests",
        "opts": Connection._meta,
        "tested": tested,
    }
    return TemplateResponse(request, "admin/connectors/connection/test_result.html", context)


@admin.action(
    description="Test connection (credentials, permissions, round trip)", permissions=["test"]
)
def test_connections(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Connection]
) -> TemplateResponse:
    tested = [(c, connection_test(connection=c)) for c in queryset.order_by("name")[:TEST_BATCH]]
    return _results_page(modeladmin, request, tested)


def connection_test_view(
    modeladmin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """The "Test connection" button of a connection's page (POST: it calls the system)."""
    if not request.user.has_perm(TEST_PERMISSION):
        raise PermissionDenied("only an Integration admin may test a connection")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    connection = get_object_or_404(Connection, pk=object_id)
    return _results_page(
        modeladmin, request, [(connection, connection_test(connection=connection))]
    )


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
    actions = [test_connections]
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

    def has_test_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(TEST_PERMISSION)

    def get_urls(self):
        view = self.admin_site.admin_view(partial(connection_test_view, self))
        return [
            path("<path:object_id>/test/", view, name="connectors_connection_test"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ):
        extra = {
            # The "Test connection" button (change_form_object_tools.html).
            "can_test": self.has_test_permission(request),
            "test_url": reverse("admin:connectors_connection_test", args=[object_id]),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)

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
