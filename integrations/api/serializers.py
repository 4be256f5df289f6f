"""Output shapes shared by several APIs, and the configuration models' serializers."""

import copy
import json
from typing import ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from connectors.models import Connection
from connectors.validators import validate_connection_url
from integrations.models import Integration, SyncRecord
from mappings.forms import MappingSetForm
from mappings.models import FieldMapping, MappingSet, Rule, ValueMap, ValueMapEntry


class ErrorSerializer(serializers.Serializer):
    """The one error shape (integrations.api.exceptions)."""

    message = serializers.CharField()
    extra = serializers.DictField()


class SyncRecordOutputSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration_slug", read_only=True)
    step = serializers.CharField(read_only=True, help_text="Last step reached; blank before any.")

    class Meta:
        model = SyncRecord
        fields = [
            "id",
            "integration",
            "flow",
            "direction",
            "source_system",
            "source_id",
            "reference",
            "status",
            "step",
            "attempts",
            "failures",
            "next_attempt_at",
            "target_id",
            "error_class",
            "error_message",
            "error_field",
            "error_value",
            "resolution_note",
            "created_at",
            "updated_at",
            "finished_at",
        ]
        read_only_fields = fields


class SyncRecordDetailOutputSerializer(SyncRecordOutputSerializer):
    class Meta(SyncRecordOutputSerializer.Meta):
        fields = [*SyncRecordOutputSerializer.Meta.fields, "payload_in", "payload_out", "timings"]
        read_only_fields = fields


class ConnectionSerializer(serializers.ModelSerializer):
    """Credentials go in, never out: only the names of the stored keys are shown."""

    credentials = serializers.DictField(
        write_only=True,
        required=False,
        help_text="Write-only; replaces the stored credentials. Never returned.",
    )
    credential_names = serializers.ListField(child=serializers.CharField(), read_only=True)
    options = serializers.DictField(required=False)

    class Meta:
        model = Connection
        fields = [
            "id",
            "system",
            "name",
            "base_url",
            "kind",
            "credentials",
            "credential_names",
            "options",
            "last_check_at",
            "last_check_ok",
            "last_check_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "last_check_at",
            "last_check_ok",
            "last_check_message",
            "created_at",
            "updated_at",
        ]

    def validate_base_url(self, value: str) -> str:
        validate_connection_url(value)  # SSRF guard, as Connection.clean() in the admin
        return value

    def update(self, instance, validated_data):
        # Absent credentials keep the stored ones (write-only: a PATCH need not repeat them).
        if "credentials" not in validated_data:
            validated_data.pop("credentials", None)
        return super().update(instance, validated_data)

    def create(self, validated_data):
        validated_data.setdefault("credentials", {})
        return super().create(validated_data)


class IntegrationSerializer(serializers.ModelSerializer):
    """Webhook secrets are write-only like credentials."""

    shop_connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.filter(system__in=("prestashop",))
    )
    erp_connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.filter(system__in=("infor_m3", "tims"))
    )
    webhook_secrets = serializers.DictField(
        write_only=True, required=False, help_text="Write-only; never returned."
    )
    enabled_flows = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False
    )
    options = serializers.DictField(required=False)

    class Meta:
        model = Integration
        fields = [
            "id",
            "slug",
            "name",
            "shop_connection",
            "erp_connection",
            "enabled_flows",
            "base_currency",
            "is_active",
            "retry_limit",
            "backoff_base_seconds",
            "backoff_cap_seconds",
            "webhook_secrets",
            "options",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def create(self, validated_data):
        validated_data.setdefault("webhook_secrets", {})
        return super().create(validated_data)


class MappingSetSerializer(serializers.ModelSerializer):
    integration = serializers.SlugRelatedField(
        slug_field="slug", queryset=Integration.objects.all(), allow_null=True, required=False
    )
    preview_context = serializers.DictField(required=False)

    class Meta:
        model = MappingSet
        fields = [
            "id",
            "name",
            "integration",
            "entity",
            "direction",
            "target_system",
            "operation",
            "active",
            "version",
            "description",
            "preview_context",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]

    def validate(self, attrs):
        """Through the admin's own form (mappings.forms.MappingSetForm): the operation must be
        one of the target's catalog, and the model's checks and constraints (one active set
        per integration and operation, unique names) apply as on an admin save."""
        attrs = super().validate(attrs)
        values = {}
        for name in MappingSetForm.Meta.fields:
            if name in attrs:
                values[name] = attrs[name]
            elif self.instance is not None:
                values[name] = getattr(self.instance, name)
            else:
                values[name] = MappingSet._meta.get_field(name).get_default()
        integration = values["integration"]
        data = {
            **values,
            "integration": integration.pk if integration is not None else "",
            "preview_context": json.dumps(values["preview_context"] or {}),
        }
        instance = copy.copy(self.instance) if self.instance is not None else None
        form = MappingSetForm(data=data, instance=instance)
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): list(messages)
                    for name, messages in form.errors.items()
                }
            )
        return attrs


class AdminCleanMixin:
    """Validates a row as an admin save does: the model's own full_clean() (field validators,
    clean(), unique constraints), on the instance as it would be saved. The rules live in the
    model (mappings.models); nothing of them is repeated here."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in {**self.context.get("parent_fields", {}), **attrs}.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict
                if hasattr(exc, "error_dict")
                else {"non_field_errors": exc.messages}
            ) from None
        return attrs


class FieldMappingSerializer(AdminCleanMixin, serializers.ModelSerializer):
    class Meta:
        model = FieldMapping
        fields = [
            "id",
            "mapping_set",
            "position",
            "target_field",
            "source",
            "transforms",
            "default",
            "required",
            "condition",
            "note",
            "owner",
        ]
        read_only_fields = ["mapping_set"]


class RuleSerializer(AdminCleanMixin, serializers.ModelSerializer):
    assignments = serializers.DictField(
        help_text='Target field → value, e.g. {"ORTP": "B2B"}; checked against the catalog.'
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            "mapping_set",
            "position",
            "name",
            "condition",
            "assignments",
            "mode",
            "active",
        ]
        read_only_fields = ["mapping_set"]


class ValueMapSerializer(AdminCleanMixin, serializers.ModelSerializer):
    entry_count = serializers.SerializerMethodField(help_text="How many entries it has.")

    class Meta:
        model = ValueMap
        fields = [
            "id",
            "name",
            "description",
            "case_sensitive",
            "has_fallback",
            "fallback",
            "entry_count",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def get_entry_count(self, value_map: ValueMap) -> int:
        # Annotated on lists and reads (views._value_map_queryset); counted after a create.
        annotated = getattr(value_map, "entry_count", None)
        return annotated if annotated is not None else value_map.entries.count()


class ValueMapEntrySerializer(AdminCleanMixin, serializers.ModelSerializer):
    class Meta:
        model = ValueMapEntry
        fields = ["id", "value_map", "source_value", "target_value", "note"]
        read_only_fields = ["value_map"]
        # The (value map, source value) constraint is checked by full_clean() with the value
        # map from the URL (DRF's own unique-together check would ask for it in the body).
        validators: ClassVar[list] = []
