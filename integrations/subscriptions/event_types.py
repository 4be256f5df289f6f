"""The events other systems may subscribe to (names are part of our public contract)."""

ORDER_SYNCED = "order.synced"
ORDER_SHIPPED = "order.shipped"
ORDER_INVOICED = "order.invoiced"
ORDER_PAID = "order.paid"
STOCK_CHANGED = "stock.changed"
RECORD_NEEDS_ATTENTION = "record.needs_attention"

EVENT_TYPES = (
    ORDER_SYNCED,
    ORDER_SHIPPED,
    ORDER_INVOICED,
    ORDER_PAID,
    STOCK_CHANGED,
    RECORD_NEEDS_ATTENTION,
)
