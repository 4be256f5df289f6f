"""The daily report equals a naive count over the records and links, whatever is written.

On PostgreSQL the report reads integrations_reportdaily, which statement triggers keep up
(migration 0007); every step below writes the way flows, the admin or a bulk job would, then
compares the summary, the live SQL and a plain Python count over every row. On SQLite the
report is the live SQL, compared with the same count.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from integrations import selectors_reports as reports
from integrations.models import Link, Status, SyncRecord
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the summary exists on PostgreSQL only"
)

TODAY = timezone.localdate()
RANGE = reports.DailyRange(since=TODAY - timedelta(days=6), until=TODAY)


def amount_text(value: Any) -> Decimal | None:
    """An amount's number, None when it is not one (shopsync_report_amount's rule)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() and str(value).strip() else None


def amount(value: Any) -> Decimal:
    """What an amount adds to a sum: its number, or nothing when it is not one."""
    return amount_text(value) or Decimal(0)


def naive(rng: reports.DailyRange, integration_id: int | None = None) -> list[dict[str, Any]]:
    """The report by its definition, one row at a time in Python."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "orders": 0,
            "sales_total": Decimal(0),
            "shipments": 0,
            "invoices": 0,
            "invoiced_total": Decimal(0),
            "payments": 0,
            "paid_total": Decimal(0),
        }
    )
    since, until = rng.since.isoformat(), rng.until.isoformat()
    records = SyncRecord.objects.all()
    links = Link.objects.filter(entity="order").select_related("record")
    if integration_id is not None:
        records, links = (
            records.filter(integration_id=integration_id),
            links.filter(integration_id=integration_id),
        )
    for r in records:
        if r.flow == "order_to_cash" and isinstance(r.payload_in, dict):
            if "total_paid" not in r.payload_in:
                continue
            day = r.created_at.astimezone(UTC).date().isoformat()
            if since <= day <= until:
                row = rows[(day, r.payload_in.get("currency") or "")]
                row["orders"] += 1
                row["sales_total"] += amount(r.payload_in["total_paid"])
        shipped = (r.payload_out or {}).get("erp_state") == "shipped"
        if r.flow == "status_back" and r.status == Status.SUCCEEDED and shipped and r.finished_at:
            day = r.finished_at.astimezone(UTC).date().isoformat()
            if since <= day <= until:
                link = Link.objects.filter(
                    integration_id=r.integration_id, entity="order", erp_id=r.source_id
                ).first()
                payload = link.record.payload_in if link and link.record else {}
                rows[(day, (payload or {}).get("currency") or "")]["shipments"] += 1
    for link in links:
        for key, count, total, date_key, amount_key in (
            ("invoices", "invoices", "invoiced_total", "date", "total"),
            ("payments", "payments", "paid_total", "paid_at", "amount"),
        ):
            entries = link.data.get(key) if isinstance(link.data, dict) else None
            for e in entries if isinstance(entries, list) else []:
                if not isinstance(e, dict) or e.get(date_key) is None:
                    continue
                day = str(e[date_key])[:10]
                if since <= day <= until:
                    row = rows[(day, e.get("currency") or "")]
                    row[count] += 1
                    row[total] += amount(e.get(amount_key))
    return [{"date": d, "currency": c, **rows[(d, c)]} for d, c in sorted(rows)]


def at(days_ago: int, hour: int = 12) -> datetime:
    day = TODAY - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def order(integration, n: int, *, currency: str | None, total: str, days_ago: int = 0):
    record = SyncRecordFactory(
        integration=integration,
        flow="order_to_cash",
        source_id=str(n),
        reference=f"R{n}",
        idempotency_key=f"o:{n}",
        status=Status.SUCCEEDED,
        payload_in={
            "id": str(n),
            "currency": currency,
            "total_paid": total,
            "canonical_state": "paid",
        },
    )
    SyncRecord.objects.filter(pk=record.pk).update(created_at=at(days_ago))
    return record


def shipment(integration, erp_id: str, *, days_ago: int = 0, state: str = "shipped"):
    return SyncRecordFactory(
        integration=integration,
        flow="status_back",
        direction="erp_to_shop",
        source_system="infor_m3",
        source_id=erp_id,
        idempotency_key=f"s:{erp_id}:{state}:{days_ago}",
        status=Status.SUCCEEDED,
        finished_at=at(days_ago, 9),
        payload_out={"erp_state": state},
    )


def link(integration, record, erp_id: str, *, invoices=(), payments=()) -> Link:
    return Link.objects.create(
        integration=integration,
        entity="order",
        shop_id=record.source_id,
        erp_id=erp_id,
        record=record,
        data={"invoices": list(invoices), "payments": list(payments)},
    )


PAID = {"paid", "processing", "shipped", "delivered", "invoiced"}


def naive_reconciliation(integration_id: int | None = None) -> dict[str, set[int]]:
    """The reconciliation's findings by definition: record ids (1, 2), link ids (3, 4)."""
    records = SyncRecord.objects.all()
    links = Link.objects.filter(entity="order").select_related("record")
    if integration_id is not None:
        records = records.filter(integration_id=integration_id)
        links = links.filter(integration_id=integration_id)
    all_links = list(Link.objects.filter(entity="order"))
    shop_keys = {(link.integration_id, link.shop_id) for link in all_links}
    erp_keys = {(link.integration_id, link.erp_id) for link in all_links}
    found: dict[str, set[int]] = {k: set() for k in reports.RECONCILIATION_KINDS}
    for r in records:
        key = (r.integration_id, r.source_id)
        if r.flow == "order_to_cash" and r.status != Status.SKIPPED and key not in shop_keys:
            found["missing_in_erp"].add(r.pk)
        if r.flow == "status_back" and key not in erp_keys:
            found["erp_without_shop_order"].add(r.pk)
    tolerance = Decimal("0.01")
    for link in links:
        payload = link.record.payload_in if link.record else None
        if not isinstance(payload, dict) or "total_paid" not in payload:
            continue
        shop = amount_text(payload["total_paid"])
        entries = {
            key: [e for e in link.data.get(key) or [] if isinstance(e, dict)]
            if isinstance(link.data.get(key), list)
            else []
            for key in ("invoices", "payments")
        }
        invoiced = sum((amount(e.get("total")) for e in entries["invoices"]), Decimal(0))
        paid = sum((amount(e.get("amount")) for e in entries["payments"]), Decimal(0))
        invoice_count = (
            len(link.data["invoices"]) if isinstance(link.data.get("invoices"), list) else 0
        )
        if invoice_count and (
            shop is None or shop > invoiced + tolerance or shop < invoiced - tolerance
        ):
            found["amount_mismatch"].add(link.pk)
        if payload.get("canonical_state") in PAID and shop is not None and paid < shop - tolerance:
            found["paid_in_shop_unpaid_in_erp"].add(link.pk)
    return found


def check_reconciliation(integration_id: int | None = None) -> None:
    expected = naive_reconciliation(integration_id)
    report = reports.reconciliation(integration_id=integration_id)
    assert report["counts"] == {k: len(v) for k, v in expected.items()}
    got: dict[str, set[int]] = {k: set() for k in reports.RECONCILIATION_KINDS}
    for row in report["results"]:
        if row["kind"] in ("missing_in_erp", "erp_without_shop_order"):
            got[row["kind"]].add(row["record_id"])
        else:
            got[row["kind"]].add(
                Link.objects.get(
                    integration__slug=row["integration"], shop_id=row["shop_order_id"]
                ).pk
            )
    assert got == expected
    # The findings (PostgreSQL) list the same rows in the same order as the live queries.
    live = reports.reconciliation_querysets(integration_id=integration_id)
    for kind, qs in live.items():
        assert qs.count() == len(expected[kind])
    if connection.vendor == "postgresql":
        reports.reconciliation_counts_compact()
        assert (
            reports.reconciliation_finding_counts(integration_id=integration_id) == report["counts"]
        )
        first = reports.reconciliation_finding_querysets(integration_id=integration_id, limit=2)
        for kind, qs in first.items():
            assert list(qs.values_list("pk", flat=True)) == list(
                live[kind].values_list("pk", flat=True)[:2]
            )


def check(integration_id: int | None = None) -> None:
    check_reconciliation(integration_id)
    expected = naive(RANGE, integration_id)
    assert reports.daily_aggregates_live(rng=RANGE, integration_id=integration_id) == expected
    if connection.vendor == "postgresql":
        summary = reports.daily_aggregates_summary(rng=RANGE, integration_id=integration_id)
        assert summary == expected
        reports.daily_summary_compact()
        summary = reports.daily_aggregates_summary(rng=RANGE, integration_id=integration_id)
        assert summary == expected
    assert reports.daily_aggregates(rng=RANGE, integration_id=integration_id) == expected


@pytest.fixture
def world():
    a, b = IntegrationFactory(slug="sum-a"), IntegrationFactory(slug="sum-b")
    o1 = order(a, 1, currency="EUR", total="10.50")
    o2 = order(a, 2, currency="USD", total="20.25", days_ago=2)
    o3 = order(a, 3, currency=None, total="1.00", days_ago=9)  # before the range
    o4 = order(b, 4, currency="EUR", total="99.99", days_ago=1)
    link(
        a,
        o1,
        "M3-1",
        invoices=[{"number": "I1", "date": TODAY.isoformat(), "currency": "EUR", "total": "10.50"}],
        payments=[{"id": "P1", "paid_at": at(0).isoformat(), "currency": "EUR", "amount": "10.5"}],
    )
    link(a, o2, "M3-2", invoices=[{"date": at(1).isoformat(), "currency": "USD", "total": ""}])
    link(b, o4, "M3-4")
    shipment(a, "M3-1")
    shipment(a, "M3-2", days_ago=1)
    shipment(a, "M3-9")  # an ERP order no shop order is linked to: no currency
    shipment(b, "M3-4", days_ago=3)
    shipment(a, "M3-1", state="invoiced")  # not a shipment
    return {"a": a, "b": b, "o1": o1, "o2": o2, "o3": o3, "o4": o4}


def test_report_matches_a_naive_count(world):
    check()
    check(world["a"].pk)
    check(world["b"].pk)
    # The world is not empty: the comparisons mean something.
    assert naive(RANGE)
    assert all(naive_reconciliation().values())


def test_report_follows_every_kind_of_write(world):
    a, o1, o2 = world["a"], world["o1"], world["o2"]
    # The shop order's currency changes: its sale and its shipment move.
    o1.payload_in = {**o1.payload_in, "currency": "GBP"}
    o1.save()
    check()
    if connection.vendor == "postgresql":
        # One statement changes the order's currency and moves its shipment a day back.
        shipped = SyncRecord.objects.get(source_id="M3-1", payload_out__erp_state="shipped")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE integrations_syncrecord SET payload_in = CASE WHEN id = %s THEN "
                "payload_in - 'currency' ELSE payload_in END, finished_at = CASE WHEN id = %s "
                "THEN finished_at - interval '1 day' ELSE finished_at END WHERE id IN (%s, %s)",
                [o1.pk, shipped.pk, o1.pk, shipped.pk],
            )
        check()
    # An invoice and a payment added, an amount that is not a number, an entry not an object.
    l2 = Link.objects.get(erp_id="M3-2")
    l2.data["payments"] = [
        {"paid_at": TODAY.isoformat(), "currency": "USD", "amount": "20.25"},
        {"paid_at": TODAY.isoformat(), "currency": "USD", "amount": "n/a"},
        "not an object",
    ]
    l2.save()
    check()
    # The link is pointed at another ERP order, then deleted: the shipment loses its currency.
    Link.objects.filter(pk=l2.pk).update(erp_id="M3-9")
    check()
    Link.objects.filter(pk=l2.pk).delete()
    check()
    # A bulk status change (retry of many), a deleted record, a bulk insert.
    SyncRecord.objects.filter(flow="status_back").update(status=Status.PENDING)
    check()
    SyncRecord.objects.filter(flow="status_back").update(status=Status.SUCCEEDED)
    o2.delete()
    check()
    SyncRecord.objects.bulk_create(
        [
            SyncRecord(
                integration=a,
                flow="order_to_cash",
                direction="shop_to_erp",
                source_system="prestashop",
                source_id=str(n),
                idempotency_key=f"bulk:{n}",
                payload_in={"currency": "EUR", "total_paid": f"{n}.10"},
            )
            for n in range(100, 130)
        ]
    )
    check()
    check(a.pk)


@postgres_only
def test_truncate_rebuilds_the_summary(world):
    with connection.cursor() as cursor:
        # The world's foreign keys are checked at commit; TRUNCATE wants them checked first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE integrations_link")
    check()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE integrations_syncrecord CASCADE")
    assert reports.daily_aggregates_summary(rng=RANGE) == []


@postgres_only
def test_writes_that_move_no_figure_append_nothing(world):
    reports.daily_summary_compact()

    def appended() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {reports.SUMMARY_TABLE} WHERE NOT compacted")
            return cursor.fetchone()[0]

    # What the pipeline does most: claim, step and attempt changes of an order record.
    SyncRecord.objects.filter(pk=world["o1"].pk).update(
        status=Status.RUNNING, claim_token="t", attempts=2
    )
    link_row = Link.objects.get(erp_id="M3-1")
    link_row.data = {**link_row.data, "tracking": {"number": "T1"}}
    link_row.save()
    assert appended() == 0


@postgres_only
def test_summaries_emptied_behind_the_triggers_back_are_rebuilt_by_the_command(world):
    assert reports.daily_aggregates_summary(rng=RANGE)  # an empty summary is a real difference
    with connection.cursor() as cursor:
        # As a bulk load with the triggers off would leave them: no figure, no finding.
        cursor.execute("DELETE FROM integrations_reportdaily")
        cursor.execute("DELETE FROM integrations_reportfinding")
        cursor.execute("DELETE FROM integrations_reportfindingcount")
    assert reports.daily_aggregates_summary(rng=RANGE) == []
    out = StringIO()
    call_command("report_summaries_rebuild", stdout=out)
    assert "rebuilt" in out.getvalue()
    check()


@pytest.mark.django_db
def test_on_sqlite_the_command_has_nothing_to_rebuild():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    out = StringIO()
    call_command("report_summaries_rebuild", stdout=out)
    assert "Nothing to rebuild" in out.getvalue()
