from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from integrations.api import views
from integrations.api.docs import ApiDocsApi

# <str:pk>, not <int:pk>: a malformed id reaches the API and gets its JSON 404, not the
# resolver's HTML page.
v1 = [
    path("v1/sync-records/", views.SyncRecordListApi.as_view(), name="sync-record-list"),
    path(
        "v1/sync-records/<str:pk>/", views.SyncRecordDetailApi.as_view(), name="sync-record-detail"
    ),
    path(
        "v1/sync-records/<str:pk>/retry/",
        views.SyncRecordRetryApi.as_view(),
        name="sync-record-retry",
    ),
    path(
        "v1/sync-records/<str:pk>/resolve/",
        views.SyncRecordResolveApi.as_view(),
        name="sync-record-resolve",
    ),
    path("v1/reports/orders/", views.OrderToCashListApi.as_view(), name="report-orders"),
    path("v1/reports/daily/", views.DailyReportApi.as_view(), name="report-daily"),
    path(
        "v1/reports/reconciliation/",
        views.ReconciliationApi.as_view(),
        name="report-reconciliation",
    ),
    path("v1/reports/inventory-drift/", views.InventoryDriftListApi.as_view(), name="report-drift"),
    path("v1/reports/health/", views.HealthApi.as_view(), name="report-health"),
    path("v1/connections/", views.ConnectionListApi.as_view(), name="connection-list"),
    path("v1/connections/<str:pk>/", views.ConnectionDetailApi.as_view(), name="connection-detail"),
    path("v1/integrations/", views.IntegrationListApi.as_view(), name="integration-list"),
    path(
        "v1/integrations/<str:pk>/", views.IntegrationDetailApi.as_view(), name="integration-detail"
    ),
    path("v1/mapping-sets/", views.MappingSetListApi.as_view(), name="mapping-set-list"),
    path(
        "v1/mapping-sets/<str:pk>/", views.MappingSetDetailApi.as_view(), name="mapping-set-detail"
    ),
    path(
        "v1/mapping-sets/<str:set_pk>/fields/",
        views.FieldMappingListApi.as_view(),
        name="field-mapping-list",
    ),
    path(
        "v1/mapping-sets/<str:set_pk>/fields/<str:pk>/",
        views.FieldMappingDetailApi.as_view(),
        name="field-mapping-detail",
    ),
    path("v1/mapping-sets/<str:set_pk>/rules/", views.RuleListApi.as_view(), name="rule-list"),
    path(
        "v1/mapping-sets/<str:set_pk>/rules/<str:pk>/",
        views.RuleDetailApi.as_view(),
        name="rule-detail",
    ),
    path("v1/value-maps/", views.ValueMapListApi.as_view(), name="value-map-list"),
    path("v1/value-maps/<str:pk>/", views.ValueMapDetailApi.as_view(), name="value-map-detail"),
    path(
        "v1/value-maps/<str:map_pk>/entries/",
        views.ValueMapEntryListApi.as_view(),
        name="value-map-entry-list",
    ),
    path(
        "v1/value-maps/<str:map_pk>/entries/<str:pk>/",
        views.ValueMapEntryDetailApi.as_view(),
        name="value-map-entry-detail",
    ),
]

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsApi.as_view(), name="docs"),
    *v1,
]
