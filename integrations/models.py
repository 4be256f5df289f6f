from decimal import Decimal
from typing import Any

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from connectors.fields import EncryptedJSONField
from connectors.models import ERP_SYSTEMS, SHOP_SYSTEMS, Connection


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    def flow_enabled(self, flow: str) -> bool:
        return flow in (self.enabled_flows or [])


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
