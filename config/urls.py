from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from integrations.views import healthz

admin.site.site_header = "ShopSync back office"
admin.site.site_title = "ShopSync"
admin.site.index_title = "Integrations"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(settings.ADMIN_URL, admin.site.urls),
    path("webhooks/", include("integrations.webhooks.urls")),
]
