"""Read-only queries over published stock, holds, runs and unmatched items (for admin/API)."""

from django.db.models import QuerySet

from integrations.models import Integration, PublishedStock, StockHold, StockRun, StockUnmatched


def stock_unmatched_list(*, integration: Integration | None = None) -> QuerySet[StockUnmatched]:
    """ERP items the shop lacks: skipped with the reason, listed here, never retried."""
    rows = StockUnmatched.objects.select_related("integration").order_by("integration", "sku")
    return rows.filter(integration=integration) if integration is not None else rows


def stock_holds_open(*, integration: Integration | None = None) -> QuerySet[StockHold]:
    holds = StockHold.objects.filter(state=StockHold.State.HELD).order_by("-id")
    return holds.filter(integration=integration) if integration is not None else holds


def stock_pending(*, integration: Integration) -> QuerySet[PublishedStock]:
    """Items a scan planned to write that no record has published yet."""
    return PublishedStock.objects.filter(integration=integration, target__isnull=False)


def stock_last_runs(*, integration: Integration, limit: int = 20) -> QuerySet[StockRun]:
    return StockRun.objects.filter(integration=integration).order_by("-id")[:limit]
