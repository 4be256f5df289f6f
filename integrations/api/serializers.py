"""Output shapes shared by several APIs, and the configuration models' serializers."""

from rest_framework import serializers

from connectors.models import Connection
from connectors.validators import validate_connection_url
from integrations.models import Integration, SyncRecord
from mappings.models import MappingSet


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
