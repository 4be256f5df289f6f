"""Admin actions on order records that stopped for a person's decision: a customer e-mail
conflict (three ways out) and an order held for stock. Each fetches the selected records and
calls one service per record; who may run them is declared (the retry permission)."""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors.errors import ConnectorError
from integrations.models import Status, SyncRecord
from integrations.services.customers import (
    customer_conflict_create_new,
    customer_conflict_link_existing,
    customer_conflict_update_erp,
)
from integrations.services.orders import order_backorder_approve
from integrations.services.records import RecordActionError


def _each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[SyncRecord],
    service: Callable[..., SyncRecord],
    done: str,
) -> None:
    ok = 0
    for record in queryset.filter(status=Status.NEEDS_ATTENTION).select_related("integration"):
        try:
            service(record=record, user=request.user)
        except (RecordActionError, ConnectorError) as error:
            modeladmin.message_user(request, f"record {record.pk}: {error}", messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{ok} record(s) {done} and queued.", messages.SUCCESS)
    else:
        modeladmin.message_user(
            request, "No selected record needed that decision.", messages.WARNING
        )


@admin.action(
    description="Customer conflict: link to the existing ERP customer", permissions=["retry"]
)
def conflict_link_existing(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, customer_conflict_link_existing, "linked")


@admin.action(description="Customer conflict: update the ERP customer", permissions=["retry"])
def conflict_update_erp(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, customer_conflict_update_erp, "updated in the ERP")


@admin.action(description="Customer conflict: create a new ERP customer", permissions=["retry"])
def conflict_create_new(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, customer_conflict_create_new, "given a new customer")


@admin.action(description="Approve backorder and retry", permissions=["retry"])
def approve_backorder(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, order_backorder_approve, "approved as backorder")


ORDER_ACTIONS = [
    conflict_link_existing,
    conflict_update_erp,
    conflict_create_new,
    approve_backorder,
]
