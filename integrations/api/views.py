"""One API per operation; each validates input, calls one selector or service, shapes output."""

from datetime import timedelta
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.generics import get_object_or_404
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.models import Connection
from integrations import selectors_reports as reports
from integrations.api.exceptions import ApiError
from integrations.api.filters import SyncRecordFilter
from integrations.api.pagination import IdCursorPagination
from integrations.api.permissions import HasPerms, ModelPermissions
from integrations.api.renderers import CSVRenderer
from integrations.api.serializers import (
    ConnectionSerializer,
    FieldMappingSerializer,
    IntegrationSerializer,
    MappingSetSerializer,
    RuleSerializer,
    SyncRecordDetailOutputSerializer,
    SyncRecordOutputSerializer,
    ValueMapEntrySerializer,
    ValueMapSerializer,
)
from integrations.models import Integration, Status
from integrations.services.mapping_config import value_map_users
from integrations.services.records import sync_record_resolve, sync_record_retry
from mappings.models import MappingSet, ValueMap

REPORT_RENDERERS = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
# Longest range the daily report aggregates in one request.
DAILY_MAX_DAYS = 366
DAILY_DEFAULT_DAYS = 30
DAILY_MIN_YEAR, DAILY_MAX_YEAR = 1970, 9998
REPORT_PERMS = ("integrations.view_syncrecord", "integrations.view_link")


class IntegrationScopeInput(serializers.Serializer):
    integration = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Integration.objects.all(),
        required=False,
        help_text="Only this integration (its slug).",
    )


def _scope_id(data: dict[str, Any]) -> int | None:
    integration = data.get("integration")
    return integration.pk if integration is not None else None


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# ---------------------------------------------------------------- sync records


class SyncRecordListApi(generics.ListAPIView):
    """Sync records, newest first; filter by status, flow, integration, reference, date."""

    queryset = reports.sync_record_list()
    serializer_class = SyncRecordOutputSerializer
    permission_classes: ClassVar = [ModelPermissions]
    filter_backends: ClassVar = [DjangoFilterBackend]
    filterset_class = SyncRecordFilter
    pagination_class = IdCursorPagination
    renderer_classes = REPORT_RENDERERS


class SyncRecordDetailApi(generics.RetrieveAPIView):
    queryset = reports.sync_record_list()
    serializer_class = SyncRecordDetailOutputSerializer
    permission_classes: ClassVar = [ModelPermissions]


class RecordActionOutput(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when the record was already there.")
    message = serializers.CharField()
    record = SyncRecordDetailOutputSerializer()


class SyncRecordRetryApi(APIView):
    """Run a record again now (idempotent: a record already queued or running is left be)."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = ("integrations.view_syncrecord", "integrations.retry_syncrecord")

    @extend_schema(request=None, responses={200: RecordActionOutput})
    def post(self, request: Request, pk: str) -> Response:
        record = get_object_or_404(reports.sync_record_list(), pk=pk)
        before = record.status
        sync_record_retry(record=record, user=request.user)
        record = reports.sync_record_list().get(pk=record.pk)
        changed = before != record.status
        message = (
            f"record {record.pk} queued again"
            if changed
            else f"record {record.pk} is {record.status}; nothing to retry"
        )
        data = {"changed": changed, "message": message, "record": record}
        return Response(RecordActionOutput(data).data)


class SyncRecordResolveApi(APIView):
    """Close a record by hand with a note (idempotent: resolving a resolved record is a no-op)."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = ("integrations.view_syncrecord", "integrations.resolve_syncrecord")

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SyncRecordResolveInput"

        note = serializers.CharField(max_length=2000, help_text="How it was fixed.")

    @extend_schema(
        request=InputSerializer,
        responses={200: RecordActionOutput, 409: OpenApiResponse(description="not resolvable")},
    )
    def post(self, request: Request, pk: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = get_object_or_404(reports.sync_record_list(), pk=pk)
        if record.status == Status.SUCCEEDED and record.resolution_note.startswith("resolved"):
            data = {
                "changed": False,
                "message": f"record {pk} is already resolved",
                "record": record,
            }
            return Response(RecordActionOutput(data).data)
        sync_record_resolve(
            record=record, note=serializer.validated_data["note"], user=request.user
        )
        record = reports.sync_record_list().get(pk=record.pk)
        data = {"changed": True, "message": f"record {pk} resolved", "record": record}
        return Response(RecordActionOutput(data).data)


# ---------------------------------------------------------------- reports


class OrderToCashListApi(generics.ListAPIView):
    """Per linked order: shop reference, ERP number, states, shipped, invoiced, paid, amounts."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = REPORT_PERMS
    pagination_class = IdCursorPagination
    renderer_classes = REPORT_RENDERERS

    class FilterInput(IntegrationScopeInput):
        class Meta:
            ref_name = "OrderToCashListFilterInput"

        reference = serializers.CharField(required=False, max_length=100)
        shop_order_id = serializers.CharField(required=False, max_length=100)
        erp_order_number = serializers.CharField(required=False, max_length=100)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrderToCashListOutput"

        id = serializers.IntegerField()
        integration = serializers.CharField()
        shop_order_id = serializers.CharField()
        reference = serializers.CharField(allow_blank=True)
        erp_order_number = serializers.CharField()
        erp_system = serializers.CharField(allow_blank=True)
        shop_state = serializers.CharField(allow_blank=True)
        shop_canonical_state = serializers.CharField(allow_blank=True)
        erp_state = serializers.CharField(allow_blank=True)
        shipped = serializers.BooleanField()
        tracking_number = serializers.CharField(allow_blank=True)
        carrier = serializers.CharField(allow_blank=True)
        invoiced = serializers.BooleanField()
        invoice_numbers = serializers.CharField(allow_blank=True)
        paid = serializers.BooleanField()
        shop_total = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
        invoiced_total = serializers.DecimalField(max_digits=20, decimal_places=2)
        paid_total = serializers.DecimalField(max_digits=20, decimal_places=2)
        currency = serializers.CharField(allow_blank=True)
        linked_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

        def to_representation(self, instance):
            return super().to_representation(reports.order_to_cash_row(instance))

    serializer_class = OutputSerializer

    def get_queryset(self):
        query = _query(self.FilterInput, self.request)
        qs = reports.order_to_cash_list(integration_id=_scope_id(query))
        if query.get("reference"):
            qs = qs.filter(data__reference=query["reference"])
        if query.get("shop_order_id"):
            qs = qs.filter(shop_id=query["shop_order_id"])
        if query.get("erp_order_number"):
            qs = qs.filter(erp_id=query["erp_order_number"])
        return qs

    @extend_schema(parameters=[FilterInput])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DailyReportApi(APIView):
    """Per day and currency: orders (sales), shipments, invoices and payments."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = REPORT_PERMS
    renderer_classes = REPORT_RENDERERS

    class InputSerializer(IntegrationScopeInput):
        class Meta:
            ref_name = "DailyReportInput"

        since = serializers.DateField(required=False, help_text="First day (default: 30 days ago).")
        until = serializers.DateField(required=False, help_text="Last day (default: today).")

        def validate(self, attrs):
            for name in ("since", "until"):
                value = attrs.get(name)
                if value is not None and not DAILY_MIN_YEAR <= value.year <= DAILY_MAX_YEAR:
                    raise serializers.ValidationError(
                        {name: f"must be between {DAILY_MIN_YEAR} and {DAILY_MAX_YEAR}"}
                    )
            today = timezone.localdate()
            until = attrs.get("until") or today
            since = attrs.get("since") or until - timedelta(days=DAILY_DEFAULT_DAYS - 1)
            if since > until:
                raise serializers.ValidationError({"since": "must not be after until"})
            if (until - since).days >= DAILY_MAX_DAYS:
                raise serializers.ValidationError(
                    {"since": f"a range covers at most {DAILY_MAX_DAYS} days"}
                )
            return {**attrs, "since": since, "until": until}

    class RowSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DailyReportRow"

        date = serializers.CharField()
        currency = serializers.CharField(allow_blank=True)
        orders = serializers.IntegerField()
        sales_total = serializers.DecimalField(max_digits=24, decimal_places=2)
        shipments = serializers.IntegerField()
        invoices = serializers.IntegerField()
        invoiced_total = serializers.DecimalField(max_digits=24, decimal_places=2)
        payments = serializers.IntegerField()
        paid_total = serializers.DecimalField(max_digits=24, decimal_places=2)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DailyReportOutput"

        since = serializers.DateField()
        until = serializers.DateField()
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(parameters=[InputSerializer], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        query = _query(self.InputSerializer, request)
        rows = reports.daily_aggregates(
            rng=reports.DailyRange(since=query["since"], until=query["until"]),
            integration_id=_scope_id(query),
        )
        return Response(
            {
                "since": query["since"].isoformat(),
                "until": query["until"].isoformat(),
                "results": self.RowSerializer(rows, many=True).data,
            }
        )


class ReconciliationApi(APIView):
    """What the two sides disagree on, as far as the database knows."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = REPORT_PERMS
    renderer_classes = REPORT_RENDERERS

    class InputSerializer(IntegrationScopeInput):
        class Meta:
            ref_name = "ReconciliationInput"

        kind = serializers.MultipleChoiceField(
            choices=reports.RECONCILIATION_KINDS, required=False, help_text="Only these kinds."
        )
        limit = serializers.IntegerField(
            min_value=1, max_value=reports.RECONCILIATION_MAX_ROWS, required=False
        )

    class RowSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReconciliationRow"

        kind = serializers.ChoiceField(choices=reports.RECONCILIATION_KINDS)
        integration = serializers.CharField()
        shop_order_id = serializers.CharField(allow_blank=True)
        reference = serializers.CharField(allow_blank=True)
        erp_order_number = serializers.CharField(allow_blank=True)
        shop_total = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
        erp_total = serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
        currency = serializers.CharField(allow_blank=True)
        record_id = serializers.IntegerField(allow_null=True)
        record_status = serializers.CharField(allow_blank=True)
        detail = serializers.CharField(allow_blank=True)
        since = serializers.DateTimeField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ReconciliationOutput"

        generated_at = serializers.DateTimeField()
        counts = serializers.DictField(child=serializers.IntegerField())
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(parameters=[InputSerializer], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        data = _query(self.InputSerializer, request)
        kinds = tuple(k for k in reports.RECONCILIATION_KINDS if k in (data.get("kind") or ()))
        report = reports.reconciliation(
            integration_id=_scope_id(data),
            kinds=kinds or reports.RECONCILIATION_KINDS,
            limit=data.get("limit") or reports.RECONCILIATION_MAX_ROWS,
        )
        report["results"] = self.RowSerializer(report["results"], many=True).data
        return Response(report)


class InventoryDriftListApi(generics.ListAPIView):
    """Shop stock that differs from the ERP's last read, is unknown, or is still pending."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = ("integrations.view_publishedstock",)
    pagination_class = IdCursorPagination
    renderer_classes = REPORT_RENDERERS

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "InventoryDriftListOutput"

        id = serializers.IntegerField()
        integration = serializers.CharField(source="integration_slug")
        sku = serializers.CharField()
        product_id = serializers.CharField()
        combination_id = serializers.CharField()
        shop_quantity = serializers.IntegerField(source="quantity", allow_null=True)
        erp_quantity = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
        drift = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
        pending_target = serializers.IntegerField(source="target", allow_null=True)
        published_at = serializers.DateTimeField(allow_null=True)
        checked_at = serializers.DateTimeField(allow_null=True)

    serializer_class = OutputSerializer

    def get_queryset(self):
        query = _query(IntegrationScopeInput, self.request)
        return reports.inventory_drift_list(integration_id=_scope_id(query))

    @extend_schema(parameters=[IntegrationScopeInput])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class HealthApi(APIView):
    """Records per flow and status (last hour, last day), oldest pending, pollers, webhooks."""

    permission_classes: ClassVar = [HasPerms]
    required_perms = ("integrations.view_syncrecord",)
    renderer_classes = REPORT_RENDERERS

    class CountSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HealthCount"

        flow = serializers.CharField()
        status = serializers.CharField()
        count = serializers.IntegerField()

    class PollerSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HealthPoller"

        integration = serializers.CharField()
        stream = serializers.CharField()
        last_run_at = serializers.DateTimeField(allow_null=True)
        last_success_at = serializers.DateTimeField(allow_null=True)
        lag_seconds = serializers.FloatField(allow_null=True)
        last_error = serializers.CharField(allow_blank=True)

    class BacklogSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HealthBacklog"

        count = serializers.IntegerField()
        oldest_received_at = serializers.DateTimeField(allow_null=True)
        age_seconds = serializers.FloatField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "HealthOutput"

        generated_at = serializers.DateTimeField()
        last_hour = serializers.ListField(child=serializers.DictField())
        last_day = serializers.ListField(child=serializers.DictField())
        open = serializers.DictField(child=serializers.IntegerField())
        oldest_pending_at = serializers.DateTimeField(allow_null=True)
        oldest_pending_age_seconds = serializers.FloatField(allow_null=True)
        pollers = serializers.ListField(child=serializers.DictField())
        max_poller_lag_seconds = serializers.FloatField(allow_null=True)
        webhook_backlog = serializers.DictField()

    @extend_schema(parameters=[IntegrationScopeInput], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        query = _query(IntegrationScopeInput, request)
        health = reports.integration_health(integration_id=_scope_id(query))
        health["last_hour"] = self.CountSerializer(health["last_hour"], many=True).data
        health["last_day"] = self.CountSerializer(health["last_day"], many=True).data
        health["pollers"] = self.PollerSerializer(health["pollers"], many=True).data
        health["webhook_backlog"] = self.BacklogSerializer(health["webhook_backlog"]).data
        if request.accepted_renderer.format == "csv":
            # One CSV line per (window, flow, status) count: the part a spreadsheet wants.
            rows = [{"window": "last_hour", **r} for r in health["last_hour"]] + [
                {"window": "last_day", **r} for r in health["last_day"]
            ]
            return Response(rows)
        return Response(self.OutputSerializer(health).data)


# ---------------------------------------------------------------- configuration


class AtomicWriteMixin:
    """Each write in its own savepoint, so a constraint refusal (409) leaves the connection
    usable for the rest of the request or the enclosing transaction."""

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save()


class ConnectionListApi(AtomicWriteMixin, generics.ListCreateAPIView):
    """Connections; credentials are write-only (only their key names are returned)."""

    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer
    permission_classes: ClassVar = [ModelPermissions]
    pagination_class = IdCursorPagination


class ConnectionDetailApi(AtomicWriteMixin, generics.RetrieveUpdateAPIView):
    queryset = Connection.objects.all()
    serializer_class = ConnectionSerializer
    permission_classes: ClassVar = [ModelPermissions]


class IntegrationListApi(AtomicWriteMixin, generics.ListCreateAPIView):
    queryset = Integration.objects.all()
    serializer_class = IntegrationSerializer
    permission_classes: ClassVar = [ModelPermissions]
    pagination_class = IdCursorPagination


class IntegrationDetailApi(AtomicWriteMixin, generics.RetrieveUpdateAPIView):
    queryset = Integration.objects.all()
    serializer_class = IntegrationSerializer
    permission_classes: ClassVar = [ModelPermissions]


class MappingSetListApi(AtomicWriteMixin, generics.ListCreateAPIView):
    queryset = MappingSet.objects.select_related("integration").defer(
        "integration__webhook_secrets"
    )
    serializer_class = MappingSetSerializer
    permission_classes: ClassVar = [ModelPermissions]
    pagination_class = IdCursorPagination


class MappingSetDetailApi(AtomicWriteMixin, generics.RetrieveUpdateAPIView):
    queryset = MappingSet.objects.select_related("integration").defer(
        "integration__webhook_secrets"
    )
    serializer_class = MappingSetSerializer
    permission_classes: ClassVar = [ModelPermissions]


# ---------------------------------------------------------------- mapping rows


class _MappingRowsMixin(AtomicWriteMixin):
    """Rows of one parent (a mapping set's fields or rules, a value map's entries), addressed
    under the parent's URL; the parent is fixed by the URL, never by the body."""

    parent_model: ClassVar[type]
    parent_field: ClassVar[str]
    parent_kwarg: ClassVar[str]
    permission_classes: ClassVar = [ModelPermissions]

    def get_parent(self):
        if not hasattr(self, "_parent"):
            self._parent = get_object_or_404(self.parent_model, pk=self.kwargs[self.parent_kwarg])
        return self._parent

    def get_queryset(self):
        model = self.serializer_class.Meta.model
        if getattr(self, "swagger_fake_view", False):  # schema generation: no URL kwargs
            return model.objects.none()
        return model.objects.filter(**{self.parent_field: self.get_parent()})

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["parent_fields"] = {self.parent_field: self.get_parent()}
        return context

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        with transaction.atomic():
            serializer.save(**{self.parent_field: self.get_parent()})

    def perform_destroy(self, instance: Any) -> None:
        with transaction.atomic():
            instance.delete()


def _parent_parameter(name: str, what: str) -> Any:
    """The parent's id in the URL, documented as the integer it is (the route takes any text,
    so a malformed id gets the JSON 404)."""
    return extend_schema(
        parameters=[OpenApiParameter(name, int, OpenApiParameter.PATH, description=what)]
    )


SET_ID = _parent_parameter("set_pk", "The mapping set's id.")
MAP_ID = _parent_parameter("map_pk", "The value map's id.")


@SET_ID
class FieldMappingListApi(_MappingRowsMixin, generics.ListCreateAPIView):
    """A mapping set's field mappings, in evaluation order; validated as the admin does."""

    serializer_class = FieldMappingSerializer
    parent_model, parent_field, parent_kwarg = MappingSet, "mapping_set", "set_pk"
    pagination_class = IdCursorPagination


@SET_ID
class FieldMappingDetailApi(_MappingRowsMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = FieldMappingSerializer
    parent_model, parent_field, parent_kwarg = MappingSet, "mapping_set", "set_pk"


@SET_ID
class RuleListApi(_MappingRowsMixin, generics.ListCreateAPIView):
    """A mapping set's rules (conditions that set or enrich target fields)."""

    serializer_class = RuleSerializer
    parent_model, parent_field, parent_kwarg = MappingSet, "mapping_set", "set_pk"
    pagination_class = IdCursorPagination


@SET_ID
class RuleDetailApi(_MappingRowsMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = RuleSerializer
    parent_model, parent_field, parent_kwarg = MappingSet, "mapping_set", "set_pk"


@MAP_ID
class ValueMapEntryListApi(_MappingRowsMixin, generics.ListCreateAPIView):
    """A value map's entries (source value → target value)."""

    serializer_class = ValueMapEntrySerializer
    parent_model, parent_field, parent_kwarg = ValueMap, "value_map", "map_pk"
    pagination_class = IdCursorPagination


@MAP_ID
class ValueMapEntryDetailApi(_MappingRowsMixin, generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ValueMapEntrySerializer
    parent_model, parent_field, parent_kwarg = ValueMap, "value_map", "map_pk"


def _value_map_queryset():
    return ValueMap.objects.annotate(entry_count=Count("entries"))


class ValueMapListApi(AtomicWriteMixin, generics.ListCreateAPIView):
    """Value maps, shared by every mapping set (transforms name them: value_map("name"))."""

    queryset = _value_map_queryset()
    serializer_class = ValueMapSerializer
    permission_classes: ClassVar = [ModelPermissions]
    pagination_class = IdCursorPagination


class ValueMapDetailApi(AtomicWriteMixin, generics.RetrieveUpdateDestroyAPIView):
    """A value map; one still named by a field mapping's transforms cannot be deleted (409)."""

    queryset = _value_map_queryset()
    serializer_class = ValueMapSerializer
    permission_classes: ClassVar = [ModelPermissions]

    def perform_destroy(self, instance: ValueMap) -> None:
        users = value_map_users(instance.name)
        if users:
            raise ApiError(
                f"value map {instance.name!r} is used by {len(users)} field mapping(s)",
                extra={"reason": "in_use", "field_mappings": users[:50]},
                status_code=409,
            )
        with transaction.atomic():
            instance.delete()
