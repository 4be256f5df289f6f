from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from integrations.admin.console import (
    console_charts_data,
    console_customer,
    console_dashboard,
    console_flows,
    console_flows_data,
)
from integrations.views import healthz

admin.site.site_header = "ShopSync back office"
admin.site.site_title = "ShopSync"
admin.site.index_title = "Integrations"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The ops console's dashboard, inside the admin (its login, its look).
    path(
        f"{settings.ADMIN_URL}console/",
        admin.site.admin_view(console_dashboard),
        name="console_dashboard",
    ),
    path(
        f"{settings.ADMIN_URL}console/customer/<int:link_id>/",
        admin.site.admin_view(console_customer),
        name="console_customer",
    ),
    # The flow view (all integrations, or one) and the JSON its page and the charts poll.
    path(
        f"{settings.ADMIN_URL}console/flows/",
        admin.site.admin_view(console_flows),
        name="console_flows",
    ),
    path(
        f"{settings.ADMIN_URL}console/flows/<slug:slug>/",
        admin.site.admin_view(console_flows),
        name="console_flows_integration",
    ),
    path(
        f"{settings.ADMIN_URL}console/flows.json",
        admin.site.admin_view(console_flows_data),
        name="console_flows_data",
    ),
    path(
        f"{settings.ADMIN_URL}console/charts.json",
        admin.site.admin_view(console_charts_data),
        name="console_charts_data",
    ),
    path(settings.ADMIN_URL, admin.site.urls),
    path("webhooks/", include("integrations.webhooks.urls")),
    path("api/", include("integrations.api.urls")),
]
