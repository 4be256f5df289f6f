"""Admin for the inventory flow: published stock, holds (release/discard), scans, unmatched."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.admin.display import pretty_json
from integrations.models import PublishedStock, StockHold, StockRun, StockUnmatched
from integrations.services.stock import StockActionError, stock_hold_discard, stock_hold_release


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PublishedStock)
class PublishedStockAdmin(_ReadOnly):
    list_display = (
        "sku",
        "integration",
        "quantity",
        "erp_quantity",
        "target",
        "published_at",
        "checked_at",
    )
    list_filter = ("integration",)
    search_fields = ("sku", "product_id")
    list_select_related = ("integration",)


@admin.action(description="Release: publish the held stock now", permissions=["release"])
def release_holds(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[StockHold]
) -> None:
    for hold in queryset:
        try:
            opened = stock_hold_release(hold=hold, user=request.user, note="released in the admin")
        except StockActionError as error:
            modeladmin.message_user(request, str(error), messages.WARNING)
        else:
            modeladmin.message_user(
                request, f"hold {hold.pk}: {opened} item(s) queued for publishing", messages.SUCCESS
            )


@admin.action(
    description="Discard: write nothing (the next scan starts afresh)", permissions=["release"]
)
def discard_holds(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[StockHold]
) -> None:
    for hold in queryset:
        try:
            stock_hold_discard(hold=hold, user=request.user, note="discarded in the admin")
        except StockActionError as error:
            modeladmin.message_user(request, str(error), messages.WARNING)
        else:
            modeladmin.message_user(request, f"hold {hold.pk} discarded", messages.SUCCESS)


@admin.register(StockHold)
class StockHoldAdmin(_ReadOnly):
    list_display = (
        "id",
        "integration",
        "state",
        "items_zeroed",
        "items_cut",
        "catalogue_size",
        "created_at",
        "decided_by",
    )
    list_filter = ("state", "integration")
    readonly_fields = ("sample_pretty",)
    exclude = ("sample", "skus")
    actions = (release_holds, discard_holds)

    @admin.display(description="Sample (sku, from, to)")
    def sample_pretty(self, obj: StockHold) -> str:
        return pretty_json(obj.sample)

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.release_stockhold")


@admin.register(StockRun)
class StockRunAdmin(_ReadOnly):
    list_display = ("id", "integration", "kind", "started_at", "finished_at", "summary", "hold")
    list_filter = ("kind", "integration")
    exclude = ("report",)
    readonly_fields = ("report_pretty",)

    @admin.display(description="Report")
    def summary(self, obj: StockRun) -> str:
        if obj.error:
            return f"failed: {obj.error[:80]}"
        report = obj.report or {}
        return (
            f"{report.get('items', 0)} items, {report.get('to_write', 0)} to write, "
            f"{report.get('drift_fixed', 0)} drift fixed"
        )

    @admin.display(description="Report")
    def report_pretty(self, obj: StockRun) -> str:
        return pretty_json(obj.report)


@admin.register(StockUnmatched)
class StockUnmatchedAdmin(_ReadOnly):
    """The unmatched report: ERP items the shop lacks (add the reference in the shop)."""

    list_display = ("sku", "integration", "erp_quantity", "first_seen_at", "last_seen_at")
    list_filter = ("integration",)
    search_fields = ("sku",)
