from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from connectors.fields import EncryptedJSONField
from connectors.http import ClientOptions
from connectors.validators import validate_connection_url


class System(models.TextChoices):
    PRESTASHOP = "prestashop", "PrestaShop"
    INFOR_M3 = "infor_m3", "Infor M3"
    TIMS = "tims", "TIMS"


SHOP_SYSTEMS = (System.PRESTASHOP,)
ERP_SYSTEMS = (System.INFOR_M3, System.TIMS)


class Connection(models.Model):
    """How to reach one system: where, how to authenticate (encrypted), and client knobs."""

    class Kind(models.TextChoices):
        CLOUD = "cloud", "Cloud"
        ON_PREMISES = "on_premises", "On-premises"

    system = models.CharField(max_length=20, choices=System.choices)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(max_length=500, help_text="e.g. https://shop.example.com/api")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CLOUD)
    credentials = EncryptedJSONField(
        help_text="Encrypted at rest; never shown again once saved.",
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "Client knobs: connect_timeout, read_timeout (seconds), requests_per_second, "
            "burst, safe_retries, page_size, plus system-specific settings."
        ),
    )
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True)
    last_check_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("rotate_credentials", "Can rotate credential encryption keys")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_system_display()})"

    def clean(self) -> None:
        # Whoever edits a connection points this server's requests somewhere: not at itself,
        # nor at the cloud's metadata service (connectors.validators).
        super().clean()
        if self.base_url:
            try:
                validate_connection_url(self.base_url)
            except ValidationError as exc:
                raise ValidationError({"base_url": exc.messages}) from None

    @property
    def client_options(self) -> ClientOptions:
        return ClientOptions.from_mapping(self.options)

    @property
    def credential_names(self) -> list[str]:
        """Which credential keys are stored (never their values): safe to display."""
        creds: Any = self.credentials
        return sorted(creds) if isinstance(creds, dict) else []

    def record_check(self, *, ok: bool, message: str) -> None:
        self.last_check_at = timezone.now()
        self.last_check_ok = ok
        self.last_check_message = message[:2000]
        self.save(update_fields=["last_check_at", "last_check_ok", "last_check_message"])
