"""Admin actions: fetch, call one service, report. Who may run them is declared by
`permissions`, which Django maps to has_<name>_permission on the ModelAdmin."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.models import SyncRecord
from integrations.services.records import sync_records_retry


@admin.action(description="Retry selected records now", permissions=["retry"])
def retry_records(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[SyncRecord]
) -> None:
    _, count = sync_records_retry(records=queryset, user=request.user)
    skipped = queryset.count() - count
    modeladmin.message_user(request, f"{count} record(s) queued for retry.", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request,
            f"{skipped} record(s) were left alone: they are pending, running or succeeded.",
            messages.WARNING,
        )
