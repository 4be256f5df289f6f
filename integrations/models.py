from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from connectors.fields import EncryptedJSONField
from connectors.models import ERP_SYSTEMS, SHOP_SYSTEMS, Connection
from connectors.validators import validate_connection_url


class Integration(models.Model):
    """One shop wired to one ERP: which flows run, and how hard to retry."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    shop_connection = models.ForeignKey(
        Connection,
        on_delete=models.PROTECT,
        related_name="shop_integrations",
        limit_choices_to={"system__in": SHOP_SYSTEMS},
    )
    erp_connection = models.ForeignKey(
        Connection,
        on_delete=models.PROTECT,
        related_name="erp_integrations",
        limit_choices_to={"system__in": ERP_SYSTEMS},
    )
    enabled_flows = models.JSONField(
        default=list, blank=True, help_text="Names of the flows that run, e.g. order_to_cash."
    )
    base_currency = models.CharField(
        max_length=3,
        default="EUR",
        validators=[RegexValidator(r"^[A-Z]{3}$", "an ISO 4217 code such as EUR")],
    )
    is_active = models.BooleanField(default=True)
    retry_limit = models.PositiveIntegerField(
        default=8, help_text="Attempts before a transiently failing record is dead."
    )
    backoff_base_seconds = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("30"), validators=[MinValueValidator(0)]
    )
    backoff_cap_seconds = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("3600"), validators=[MinValueValidator(0)]
    )
    webhook_secrets = EncryptedJSONField(
        help_text="Per source (prestashop, infor, tims): up to two active secrets, newest first."
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Flow settings, one object per flow, e.g. {"order_to_cash": {"skip_states": '
            '["8"], "backorder": "hold"}}. Each flow documents its keys.'
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    def flow_enabled(self, flow: str) -> bool:
        return flow in (self.enabled_flows or [])

    def flow_options(self, flow: str) -> dict[str, Any]:
        """This integration's settings for one flow ({} when none are set)."""
        value = (self.options or {}).get(flow) or {}
        return value if isinstance(value, dict) else {}


class Direction(models.TextChoices):
    SHOP_TO_ERP = "shop_to_erp", "Shop → ERP"
    ERP_TO_SHOP = "erp_to_shop", "ERP → shop"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"
    RETRYING = "retrying", "Retrying"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    DEAD = "dead", "Dead"


# Statuses a worker may claim (when due); the others are running or final.
CLAIMABLE_STATUSES = (Status.PENDING, Status.RETRYING)
OPEN_STATUSES = (
    Status.PENDING,
    Status.RUNNING,
    Status.RETRYING,
    Status.NEEDS_ATTENTION,
    Status.DEAD,
)


class Step(models.TextChoices):
    EXTRACT = "extract", "Extract"
    TRANSFORM = "transform", "Transform"
    VALIDATE = "validate", "Validate"
    LOAD = "load", "Load"
    RECONCILE = "reconcile", "Reconcile"


class SyncRecord(models.Model):
    """One unit of work (one order, one customer, one stock change) and everything about it.

    The database is the queue of record: status, next_attempt_at and the claim live here, so a
    task lost with its worker is found again by the sweep.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="records")
    flow = models.CharField(max_length=50)
    direction = models.CharField(max_length=20, choices=Direction.choices)
    source_system = models.CharField(max_length=20)
    source_id = models.CharField(max_length=100)
    reference = models.CharField(
        max_length=100,
        blank=True,
        db_index=True,
        help_text="Human reference, e.g. the shop order reference.",
    )
    idempotency_key = models.CharField(max_length=255)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    step = models.CharField(max_length=20, choices=Step.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Runs so far, all told.")
    failures = models.PositiveIntegerField(
        default=0, help_text="Transient failures since the last success or manual retry."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a task was last queued for it (the sweep's guide)."
    )

    # The claim: who runs it and until when. A claim past its expiry was left by a dead worker.
    claim_token = models.CharField(max_length=36, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    payload_in = models.JSONField(null=True, blank=True)
    payload_out = models.JSONField(null=True, blank=True)
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text="Flow state carried between attempts (e.g. ids created).",
    )
    target_id = models.CharField(max_length=100, blank=True)

    error_class = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    error_field = models.CharField(max_length=200, blank=True)
    error_value = models.TextField(blank=True)
    resolution_note = models.TextField(blank=True)

    timings = models.JSONField(
        default=dict, blank=True, help_text="Milliseconds per step, last attempt."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "flow", "idempotency_key"], name="syncrecord_unique_key"
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | ~Q(claim_token=""),
                name="syncrecord_running_is_claimed",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="syncrecord_due"),
            models.Index(fields=["status", "claim_expires_at"], name="syncrecord_claims"),
            models.Index(fields=["integration", "flow", "status"], name="syncrecord_flow_status"),
            models.Index(fields=["error_class", "status"], name="syncrecord_error"),
        ]
        permissions = [
            ("retry_syncrecord", "Can retry sync records"),
            ("resolve_syncrecord", "Can resolve or skip sync records"),
        ]

    def __str__(self) -> str:
        return f"{self.flow} {self.reference or self.source_id} [{self.status}]"


class SyncAttempt(models.Model):
    """One run of a record through the pipeline, whatever its outcome."""

    record = models.ForeignKey(SyncRecord, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Status.choices)
    step = models.CharField(max_length=20, choices=Step.choices, blank=True)
    error_class = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    error_field = models.CharField(max_length=200, blank=True)
    error_value = models.TextField(blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["record", "number"]
        constraints = [
            models.UniqueConstraint(fields=["record", "number"], name="syncattempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of record {self.record_id}: {self.outcome}"


class Link(models.Model):
    """A shop id bound to an ERP id for one entity; unique both ways (the binder's table)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="links")
    entity = models.CharField(
        max_length=50, help_text="order, customer, address, product, variant, …"
    )
    shop_id = models.CharField(max_length=100)
    erp_id = models.CharField(max_length=100)
    record = models.ForeignKey(SyncRecord, on_delete=models.SET_NULL, null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration", "entity", "shop_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "entity", "shop_id"], name="link_unique_shop"
            ),
            models.UniqueConstraint(
                fields=["integration", "entity", "erp_id"], name="link_unique_erp"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.shop_id} ⇄ {self.erp_id}"


class WebhookEvent(models.Model):
    """A received webhook, stored raw before it is acknowledged; processed asynchronously."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="webhook_events"
    )
    source = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255, help_text="webhook-id: the sender's message id")
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True, help_text="Secrets redacted.")
    body = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "source", "event_id"], name="webhookevent_unique_id"
            )
        ]
        indexes = [models.Index(fields=["state", "received_at"], name="webhookevent_backlog")]

    def __str__(self) -> str:
        return f"{self.source} {self.event_type or 'event'} {self.event_id}"


class PollCursor(models.Model):
    """How far a poller has read one stream (e.g. orders by date_upd)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="cursors")
    stream = models.CharField(max_length=100)
    value = models.CharField(max_length=255, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration", "stream"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "stream"], name="pollcursor_unique_stream"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration.slug}/{self.stream} @ {self.value or 'start'}"

    def as_dict(self) -> dict[str, Any]:
        return {"stream": self.stream, "value": self.value}


# ---------------------------------------------------------------- events in and out


class EventRoute(models.Model):
    """Per-integration override of where an incoming event type goes (webhooks and pollers).

    The defaults live in integrations.webhooks.routing.DEFAULT_ROUTES; a row here replaces the
    flow for one (source, event type). A blank flow means: acknowledge and ignore.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="event_routes"
    )
    source = models.CharField(max_length=20, help_text="prestashop, infor or tims")
    event_type = models.CharField(max_length=100, help_text="e.g. order.created, SyncShipment")
    flow = models.CharField(
        max_length=50, blank=True, help_text="Flow that receives the records; blank = ignore."
    )

    class Meta:
        ordering = ["integration", "source", "event_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "source", "event_type"], name="eventroute_unique_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event_type} → {self.flow or 'ignored'}"


class EventSubscription(models.Model):
    """Another system that wants our events, signed per Standard Webhooks with its secret."""

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        help_text="Only this integration's events; blank = every integration.",
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = EncryptedJSONField(help_text='{"secret": "whsec_…"}; write-only in the admin.')
    event_types = models.JSONField(
        default=list, help_text="e.g. order.synced, order.shipped, record.needs_attention."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Our server posts to this URL: the SSRF guard of connections applies (and again at
        # delivery time, integrations.subscriptions.services).
        super().clean()
        if self.url:
            try:
                validate_connection_url(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from None


class EventDelivery(models.Model):
    """One event for one subscriber; retried with backoff until delivered or dead."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (refused by the subscriber)"
        DEAD = "dead", "Dead (retries exhausted)"

    subscription = models.ForeignKey(
        EventSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    integration = models.ForeignKey(
        Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message_id = models.CharField(max_length=64, help_text="webhook-id, the same on every try")
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "message_id"], name="eventdelivery_unique_message"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="eventdelivery_due")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id} [{self.state}]"


class EventDeliveryAttempt(models.Model):
    """One HTTP try of a delivery: what was sent (secrets redacted), what came back, how long."""

    delivery = models.ForeignKey(
        EventDelivery, on_delete=models.CASCADE, related_name="attempt_set"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    url = models.URLField(max_length=500)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="eventdeliveryattempt_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"try {self.number} of delivery {self.delivery_id}: {self.response_code or '—'}"


# ---------------------------------------------------------------- stock (inventory flow)


class PublishedStock(models.Model):
    """One shop item's stock as this integration last saw and wrote it (flows.inventory).

    `quantity` is what the shop holds as far as we know (our last write, or the shop's own
    figure when a reconciliation read it); a write happens only when the new target differs.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="published_stock"
    )
    sku = models.CharField(max_length=64, help_text="The shop reference = the ERP item number.")
    product_id = models.CharField(max_length=20)
    combination_id = models.CharField(max_length=20, default="0")
    stock_available_id = models.CharField(max_length=20, blank=True)
    quantity = models.IntegerField(null=True, blank=True, help_text="Shop quantity, last known.")
    erp_quantity = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, blank=True, help_text="ERP availability read."
    )
    target = models.IntegerField(
        null=True, blank=True, help_text="Quantity the last scan planned to publish (pending)."
    )
    published_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["integration", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "sku"], name="publishedstock_unique_sku")
        ]
        indexes = [
            models.Index(fields=["integration", "target"], name="publishedstock_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.sku}: {self.quantity if self.quantity is not None else '—'}"


class StockHold(models.Model):
    """A stock push held because it would zero or cut most of the catalogue at once.

    Nothing of it is written until a person releases it (services.stock.stock_hold_release);
    released items are then published from the ERP's state at that moment.
    """

    class State(models.TextChoices):
        HELD = "held", "Held (waiting for a person)"
        RELEASED = "released", "Released"
        DISCARDED = "discarded", "Discarded"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="stock_holds"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.HELD)
    reason = models.TextField()
    catalogue_size = models.PositiveIntegerField(default=0)
    items_zeroed = models.PositiveIntegerField(default=0)
    items_cut = models.PositiveIntegerField(default=0)
    skus = models.JSONField(default=list, blank=True, help_text="Items the push would write.")
    sample = models.JSONField(default=list, blank=True, help_text="A few items: sku, from, to.")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["integration", "state"], name="stockhold_open")]
        permissions = [("release_stockhold", "Can release or discard held stock pushes")]

    def __str__(self) -> str:
        return f"stock hold {self.pk} [{self.state}]"


class StockRun(models.Model):
    """One stock scan (incremental or full reconciliation) and what it found and fixed."""

    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental"
        FULL = "full", "Full reconciliation"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="stock_runs"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    hold = models.ForeignKey(StockHold, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} stock run {self.pk}"


class StockUnmatched(models.Model):
    """An ERP item the shop does not have (skipped, never retried, listed for ops)."""

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="stock_unmatched"
    )
    sku = models.CharField(max_length=64)
    erp_quantity = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["integration", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "sku"], name="stockunmatched_unique_sku")
        ]

    def __str__(self) -> str:
        return f"{self.sku} (not in the shop)"
