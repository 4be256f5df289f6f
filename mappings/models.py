"""Mapping sets ops staff edit in the admin: field mappings, value maps, rules, currency rates.

A MappingSet turns one canonical document (an order header, one order line, a customer…) into
the write payload of one target operation (a catalog, e.g. infor_m3 / OIS100MI.AddBatchHead).
Every change bumps the set's `version`, which is what the engine's compile cache is keyed on;
a change to a value map bumps every set, since any of them may use it.

Mistakes are refused at save (`clean`): an expression that does not parse, an unknown
transform or value map, a target field the catalog does not know.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from mappings import catalogs, expressions, transforms

CURRENCY_CODE = RegexValidator(r"^[A-Z]{3}$", "an ISO 4217 code such as EUR")


class Entity(models.TextChoices):
    ORDER_HEADER = "order_header", "Order header"
    ORDER_LINE = "order_line", "Order line"
    CUSTOMER = "customer", "Customer"
    ADDRESS = "address", "Address"
    PRODUCT = "product", "Product"
    STOCK = "stock", "Stock"
    STATUS_BACK = "status_back", "Status back to the shop"


class Direction(models.TextChoices):
    SHOP_TO_ERP = "shop_to_erp", "Shop → ERP"
    ERP_TO_SHOP = "erp_to_shop", "ERP → shop"


class TargetSystem(models.TextChoices):
    # The same values as connectors.models.System; repeated so mappings never need a row there.
    PRESTASHOP = "prestashop", "PrestaShop"
    INFOR_M3 = "infor_m3", "Infor M3"
    TIMS = "tims", "TIMS"


class Owner(models.TextChoices):
    """Which system's value wins for a field both sides hold (item master data)."""

    ERP = "erp", "ERP owns it (ERP → shop)"
    SHOP = "shop", "Shop owns it (shop → ERP)"


class RuleMode(models.TextChoices):
    SET = "set", "Set (override the mapped value)"
    ENRICH = "enrich", "Enrich (only where the field is still empty)"


def mapping_sets_touch(*, pk: int | None = None) -> None:
    """Mark one set (or all) changed so every worker recompiles it on next use."""
    queryset = MappingSet.objects.all() if pk is None else MappingSet.objects.filter(pk=pk)
    queryset.update(version=F("version") + 1, updated_at=timezone.now())


class MappingSet(models.Model):
    """How one entity becomes one target operation's payload, for one integration or a template."""

    name = models.CharField(max_length=100, help_text="e.g. “M3 order head (B2C shop)”.")
    integration = models.ForeignKey(
        "integrations.Integration",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mapping_sets",
        help_text="Empty for a template (e.g. the defaults installed per ERP).",
    )
    entity = models.CharField(max_length=20, choices=Entity.choices)
    direction = models.CharField(
        max_length=20, choices=Direction.choices, default=Direction.SHOP_TO_ERP
    )
    target_system = models.CharField(max_length=20, choices=TargetSystem.choices)
    operation = models.CharField(
        max_length=100,
        help_text="The target operation whose field catalog applies, e.g. OIS100MI.AddBatchHead.",
    )
    active = models.BooleanField(
        default=False,
        help_text="Only the active set of an integration and entity runs; drafts can be "
        "previewed and then promoted.",
    )
    version = models.PositiveIntegerField(
        default=1, editable=False, help_text="Goes up with every change, here or in its rows."
    )
    description = models.TextField(blank=True)
    preview_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="Values the flow supplies at run time (under `context.` in expressions), "
        'used by preview and dry run, e.g. {"customer_number": "C0001", "order_number": "1"}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["integration_id", "entity", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "name"],
                condition=Q(integration__isnull=False),
                name="mappingset_unique_name",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(integration__isnull=True),
                name="mappingset_unique_template_name",
            ),
            models.UniqueConstraint(
                fields=["integration", "entity", "direction", "target_system", "operation"],
                condition=Q(active=True, integration__isnull=False),
                name="mappingset_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            # From the stored version, not this instance's: a revert from history carries an
            # old number, and versions must only go up.
            stored = MappingSet.objects.filter(pk=self.pk).values_list("version", flat=True)
            self.version = max([self.version or 0, *stored]) + 1
        super().save(*args, **kwargs)

    @property
    def catalog(self):  # -> connectors.catalog.Catalog | None
        return catalogs.get_catalog(self.target_system, self.operation)


class FieldMapping(models.Model):
    """One target field: where its value comes from and how it is shaped."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="fields")
    position = models.PositiveIntegerField(default=0, help_text="Order of evaluation and display.")
    target_field = models.CharField(max_length=100, help_text="A field of the target's catalog.")
    source = models.CharField(
        max_length=500,
        blank=True,
        help_text="JMESPath over the canonical document, e.g. reference, customer.email, "
        "raw.id_shop, lines[0].sku. Empty for a constant (then give a default).",
    )
    transforms = models.CharField(
        max_length=500,
        blank=True,
        help_text='Steps applied in turn, separated by "|", e.g. strip | upper | truncate(20) '
        '| value_map("order_types").',
    )
    default = models.CharField(
        max_length=255,
        blank=True,
        help_text="Used when the source gives nothing (before the transforms run).",
    )
    required = models.BooleanField(
        default=False, help_text="Fail the record when this ends empty, even if the target allows."
    )
    condition = models.CharField(
        max_length=500,
        blank=True,
        help_text="JMESPath; the field is only mapped when it is true, e.g. shop_id == '2'.",
    )
    note = models.CharField(max_length=255, blank=True)
    owner = models.CharField(
        max_length=4,
        choices=Owner.choices,
        default=Owner.ERP,
        # Not required in forms: a form without the column (older clients) keeps the
        # default, and an empty choice is read as the default in clean().
        blank=True,
        help_text="Item master (product sets): the side whose value wins. ERP: its value is "
        "written to the shop and a shop edit is reported, not sent. Shop: the shop's value "
        "goes to the ERP field named by the source (e.g. name, raw.CFI1). Other sets ignore it.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["mapping_set", "position", "id"]

    def __str__(self) -> str:
        return f"{self.target_field} ← {self.source or repr(self.default)}"

    def clean(self) -> None:
        if not self.owner:
            self.owner = Owner.ERP
        errors: dict[str, list[str]] = {}
        for name in ("source", "condition"):
            problem = expressions.check(getattr(self, name))
            if problem:
                errors.setdefault(name, []).append(problem)
        try:
            steps = transforms.parse_chain(self.transforms)
        except transforms.ChainError as exc:
            errors.setdefault("transforms", []).append(str(exc))
        else:
            missing = _missing_value_maps(transforms.value_maps_used(steps))
            if missing:
                errors.setdefault("transforms", []).append(missing)
        if not self.source and not self.default and not self.transforms:
            errors.setdefault("source", []).append(
                "Give a source expression, a default or a transform."
            )
        mapping_set = _parent(self)
        if mapping_set is not None:
            problem = catalogs.check_field(mapping_set.catalog, self.target_field)
            if problem:
                errors.setdefault("target_field", []).append(problem)
        if errors:
            raise ValidationError(errors)


class ValueMap(models.Model):
    """A table from a source value to a target value, e.g. shop order state → ERP order type."""

    name = models.SlugField(
        max_length=100,
        unique=True,
        help_text='How transforms refer to it: value_map("carrier_to_modl").',
    )
    description = models.TextField(blank=True)
    case_sensitive = models.BooleanField(default=False)
    has_fallback = models.BooleanField(
        default=False,
        help_text="Unmapped values take the fallback instead of stopping the record.",
    )
    fallback = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ValueMapEntry(models.Model):
    value_map = models.ForeignKey(ValueMap, on_delete=models.CASCADE, related_name="entries")
    source_value = models.CharField(max_length=255, help_text="As the source sends it.")
    target_value = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["value_map", "source_value"]
        verbose_name_plural = "value map entries"
        constraints = [
            models.UniqueConstraint(
                fields=["value_map", "source_value"], name="valuemapentry_unique_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value_map}: {self.source_value} → {self.target_value}"


class Rule(models.Model):
    """When a condition holds, set or enrich fields (cost centre, project, order type…)."""

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100)
    condition = models.CharField(
        max_length=500,
        help_text="JMESPath over the document, e.g. customer.group == 'B2B' || "
        "shipping_address.country == 'CH'.",
    )
    assignments = models.JSONField(
        default=dict,
        help_text='Target field → value, e.g. {"ORTP": "B2B", "YREF": "PROJ-7"}.',
    )
    mode = models.CharField(max_length=10, choices=RuleMode.choices, default=RuleMode.SET)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["mapping_set", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        problem = expressions.check(self.condition)
        if problem or not self.condition:
            errors["condition"] = [problem or "A rule needs a condition."]
        if not isinstance(self.assignments, dict) or not self.assignments:
            errors["assignments"] = ['Give an object of field → value, e.g. {"ORTP": "B2B"}.']
        elif _parent(self) is not None:
            catalog = _parent(self).catalog
            for field_name, value in self.assignments.items():
                problem = catalogs.check_field(catalog, field_name)
                if problem:
                    errors.setdefault("assignments", []).append(problem)
                if isinstance(value, (dict, list)):
                    errors.setdefault("assignments", []).append(
                        f"{field_name}: value {value!r} must be text or a number"
                    )
        if errors:
            raise ValidationError(errors)


class CurrencyRate(models.Model):
    """1 unit of `from_currency` is worth `rate` units of `to_currency` on `date`."""

    date = models.DateField()
    from_currency = models.CharField(max_length=3, validators=[CURRENCY_CODE])
    to_currency = models.CharField(max_length=3, validators=[CURRENCY_CODE])
    rate = models.DecimalField(
        max_digits=20, decimal_places=10, validators=[MinValueValidator(Decimal("0.0000000001"))]
    )
    source = models.CharField(max_length=100, blank=True, help_text="e.g. ECB reference rates.")

    class Meta:
        ordering = ["-date", "from_currency", "to_currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "from_currency", "to_currency"], name="currencyrate_unique"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="currencyrate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.date} 1 {self.from_currency} = {self.rate} {self.to_currency}"


def _parent(row: "FieldMapping | Rule") -> "MappingSet | None":
    # In an admin inline the parent may be new (not saved yet) but is already attached.
    try:
        return row.mapping_set
    except MappingSet.DoesNotExist:
        return None


def _missing_value_maps(names: set[str]) -> str:
    if not names:
        return ""
    known = set(ValueMap.objects.filter(name__in=names).values_list("name", flat=True))
    missing = sorted(names - known)
    if not missing:
        return ""
    return f"No value map named {', '.join(repr(n) for n in missing)}; add it under Value maps."
