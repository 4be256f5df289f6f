"""Retry one record with one field of its outgoing document overridden: the service's checks,
who may, the history kept on the record, and the pipeline applying it before validate."""

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from connectors.errors import DataError, TransientError
from integrations import overrides
from integrations.flows.base import Flow, FlowContext
from integrations.flows.registry import register
from integrations.models import Status, SyncAttempt, SyncRecord
from integrations.pipeline import process_records
from integrations.services import records as services
from integrations.services.records import (
    OverrideRejected,
    sync_record_override_check,
    sync_record_retry_with_override,
)
from tests.console.conftest import user_in
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

# What load received, per record id (the tests' "remote system").
SENT: dict[int, dict[str, Any]] = {}


@register
class OverrideFlow(Flow):
    """An ERP-like payload; validate refuses item BAD; load fails once when asked (flaky)."""

    name = "test_override"

    def transform(self, ctx: FlowContext, data: Any) -> dict[str, Any]:
        return {
            "head": {"CUOR": "PS1", "WHLO": data.get("whlo", "100"), "RUSH": False, "PRIO": 3},
            "lines": [
                {"ITNO": "A-1", "ORQT": Decimal("1")},
                {"ITNO": data.get("item", "BAD"), "ORQT": Decimal("2.5")},
            ],
        }

    def validate(self, ctx: FlowContext, payload: dict[str, Any]) -> None:
        item = payload["lines"][1]["ITNO"]
        if item == "BAD":
            raise DataError(f"line 2 ITNO {item!r}: no such item", field="ITNO", value=item)

    def load(self, ctx: FlowContext, payload: dict[str, Any]) -> str:
        if (ctx.record.payload_in or {}).get("flaky") and not ctx.state.get("flaked"):
            ctx.state["flaked"] = True
            raise TransientError("the ERP answered 503", status_code=503)
        SENT[ctx.record.pk] = payload
        return f"ERP-{ctx.record.pk}"


def stuck_record(**payload_in: Any) -> SyncRecord:
    """A record run once through the flow, stopped at validate on item BAD."""
    record = SyncRecord.objects.create(
        integration=IntegrationFactory(enabled_flows=["test_override"]),
        flow="test_override",
        direction="shop_to_erp",
        source_system="prestashop",
        source_id="7",
        reference="PSOVR0001",
        idempotency_key="prestashop:7",
        payload_in=payload_in,
    )
    process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION, record.error_message
    return record


def run(record: SyncRecord) -> SyncRecord:
    SyncRecord.objects.filter(pk=record.pk).update(next_attempt_at=None)
    process_records(ids=[record.pk], concurrency=1)
    record.refresh_from_db()
    return record


@pytest.fixture
def operator(django_user_model):
    return user_in(django_user_model, "Operator", username="ops")


# ---------------------------------------------------------------- the service's checks


def test_override_retries_and_validate_runs_on_the_overridden_document(operator):
    record = stuck_record()
    assert record.payload_out["lines"][1]["ITNO"] == "BAD"

    sync_record_retry_with_override(
        record=record, field="lines.1.ITNO", value="B-2", user=operator, reason="ERP item is B-2"
    )
    record.refresh_from_db()
    assert record.status == Status.PENDING
    assert record.context["override"]["active"]["lines.1.ITNO"]["value"] == "B-2"

    record = run(record)
    assert record.status == Status.SUCCEEDED, record.error_message
    assert SENT[record.pk]["lines"][1]["ITNO"] == "B-2"
    # Only the one field changed; the rest is as transformed (a Decimal stays a Decimal).
    assert SENT[record.pk]["lines"][1]["ORQT"] == Decimal("2.5")
    assert record.payload_out["lines"][1]["ITNO"] == "B-2"


def test_wrong_field_is_refused_naming_field_and_what_exists(operator):
    record = stuck_record()
    with pytest.raises(OverrideRejected) as caught:
        sync_record_retry_with_override(
            record=record, field="lines.7.ITNO", value="B-2", user=operator, reason="typo"
        )
    message = str(caught.value)
    assert "'lines.7.ITNO' is not in the outgoing document" in message
    assert "lines has no 7" in message
    assert "lines.1.ITNO" in message  # what it has
    assert caught.value.field == "lines.7.ITNO"
    with pytest.raises(OverrideRejected, match="holds a list of values"):
        sync_record_override_check(record=record, field="lines", value="x")
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION
    assert "override" not in record.context


def test_reason_is_required(operator):
    record = stuck_record()
    with pytest.raises(
        OverrideRejected, match=r"a reason is required to override .lines\.1\.ITNO."
    ):
        sync_record_retry_with_override(
            record=record, field="lines.1.ITNO", value="B-2", user=operator, reason="  "
        )
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("head.PRIO", "soon", "field 'head.PRIO': value 'soon' is not a number"),
        ("head.PRIO", "2.5", "field 'head.PRIO': value '2.5' is not a whole number"),
        ("head.RUSH", "maybe", "field 'head.RUSH': value 'maybe' is not true/false"),
        ("head.CUOR", "PS2", "is the natural key"),
        ("lines.1.ITNO", "BAD", "is already 'BAD'"),
    ],
)
def test_a_bad_value_is_refused_naming_field_and_value(
    operator, monkeypatch, field, value, message
):
    record = stuck_record()
    # CUOR is protected for order_to_cash; this flow borrows that rule for the test.
    monkeypatch.setitem(services.OVERRIDE_PROTECTED, "test_override", frozenset({"CUOR"}))
    with pytest.raises(OverrideRejected) as caught:
        sync_record_retry_with_override(
            record=record, field=field, value=value, user=operator, reason="test"
        )
    assert message in str(caught.value)
    assert caught.value.value == value


def test_values_are_parsed_like_the_document_holds_them(operator):
    record = stuck_record()
    check = sync_record_override_check(record=record, field="head.PRIO", value="5")
    assert (check.old_value, check.new_value) == (3, 5)
    check = sync_record_override_check(record=record, field="head.RUSH", value="yes")
    assert check.new_value is True


def test_a_record_that_is_not_stuck_or_already_written_is_refused(operator):
    record = stuck_record()
    SyncRecord.objects.filter(pk=record.pk).update(status=Status.PENDING)
    record.refresh_from_db()
    with pytest.raises(OverrideRejected, match="is pending; only records that need attention"):
        sync_record_override_check(record=record, field="lines.1.ITNO", value="B-2")
    SyncRecord.objects.filter(pk=record.pk).update(status=Status.NEEDS_ATTENTION, target_id="ERP-9")
    record.refresh_from_db()
    with pytest.raises(OverrideRejected, match="already wrote ERP-9"):
        sync_record_override_check(record=record, field="lines.1.ITNO", value="B-2")


def test_a_record_without_an_outgoing_document_is_refused(operator):
    record = stuck_record()
    SyncRecord.objects.filter(pk=record.pk).update(payload_out=None, step="transform")
    record.refresh_from_db()
    with pytest.raises(OverrideRejected, match=r"no outgoing document yet .*stopped at transform"):
        sync_record_override_check(record=record, field="lines.1.ITNO", value="B-2")


# ---------------------------------------------------------------- who may


def test_viewer_and_integration_admin_are_denied(django_user_model):
    record = stuck_record()
    for role in ("Viewer", "Integration admin"):
        user = user_in(django_user_model, role)
        with pytest.raises(PermissionDenied):
            sync_record_retry_with_override(
                record=record, field="lines.1.ITNO", value="B-2", user=user, reason="r"
            )
    with pytest.raises(PermissionDenied):
        sync_record_retry_with_override(
            record=record, field="lines.1.ITNO", value="B-2", user=None, reason="r"
        )
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


def test_superuser_may(django_user_model):
    record = stuck_record()
    admin = django_user_model.objects.create_superuser("root", password="secret-pass-1")
    sync_record_retry_with_override(
        record=record, field="lines.1.ITNO", value="B-2", user=admin, reason="checked in M3"
    )
    assert run(record).status == Status.SUCCEEDED


# ---------------------------------------------------------------- lifetime and history


def test_override_is_kept_until_success_and_the_history_says_who_why_and_which_attempt(operator):
    record = stuck_record(flaky=True)
    sync_record_retry_with_override(
        record=record, field="lines.1.ITNO", value="B-2", user=operator, reason="ERP item is B-2"
    )
    record = run(record)
    # The attempt with the override failed transiently: the override stays for the next one.
    assert record.status == Status.RETRYING
    assert "lines.1.ITNO" in record.context["override"]["active"]
    record = run(record)
    assert record.status == Status.SUCCEEDED, record.error_message
    assert SENT[record.pk]["lines"][1]["ITNO"] == "B-2"

    state = overrides.state_of(record.context)
    assert state["active"] == {}  # done with: a later re-open will not send it again
    set_event, cleared = state["history"]
    assert set_event["event"] == "set"
    assert (set_event["field"], set_event["old_value"], set_event["value"]) == (
        "lines.1.ITNO",
        "BAD",
        "B-2",
    )
    assert (set_event["user"], set_event["reason"]) == ("ops", "ERP item is B-2")
    assert set_event["at"]
    assert cleared["event"] == "cleared"
    assert cleared["reason"] == f"record succeeded on attempt {record.attempts}"
    # Which attempts ran with it: the second (transient failure) and the third (success).
    used = overrides.attempt_overrides(record.context)
    assert used == {2: {"lines.1.ITNO": "B-2"}, 3: {"lines.1.ITNO": "B-2"}}
    assert list(
        SyncAttempt.objects.filter(record=record).order_by("number").values_list("outcome")
    ) == [(Status.NEEDS_ATTENTION,), (Status.RETRYING,), (Status.SUCCEEDED,)]


def test_a_second_override_adds_to_the_first_and_the_history_is_append_only(operator):
    record = stuck_record()
    sync_record_retry_with_override(
        record=record, field="head.WHLO", value="300", user=operator, reason="ships from 300"
    )
    record = run(record)  # still BAD: needs attention again, the WHLO override stays active
    assert record.status == Status.NEEDS_ATTENTION
    assert record.context["override"]["active"]["head.WHLO"]["value"] == "300"
    sync_record_retry_with_override(
        record=record, field="lines.1.ITNO", value="B-2", user=operator, reason="item B-2"
    )
    record = run(record)
    assert record.status == Status.SUCCEEDED
    assert SENT[record.pk]["head"]["WHLO"] == "300"
    history = record.context["override"]["history"]
    assert [(e["event"], e["field"]) for e in history] == [
        ("set", "head.WHLO"),
        ("set", "lines.1.ITNO"),
        ("cleared", "head.WHLO"),
        ("cleared", "lines.1.ITNO"),
    ]


def test_an_override_whose_field_is_gone_stops_the_record_naming_it():
    payload: dict[str, Any] = {"lines": [{"ITNO": "A"}]}
    state = {
        "override": {
            "active": {"lines.3.ITNO": {"value": "B"}},
            "history": [],
            "used": [],
        }
    }
    with pytest.raises(DataError) as caught:
        overrides.overrides_apply(state, payload, attempt=4)
    assert caught.value.field == "lines.3.ITNO"
    assert "no longer has this field" in str(caught.value)


def test_paths_and_types():
    document = {"head": {"N": Decimal("1.5"), "I": 2, "B": True}, "lines": [{"X": "a"}]}
    assert overrides.split_path("lines[0].X") == ["lines", 0, "X"]
    overrides.set_at(document, "lines.0.X", "b")
    assert document["lines"][0]["X"] == "b"
    assert overrides.like(Decimal("1.5"), "2.25") == Decimal("2.25")
    assert overrides.like(2, "7") == 7
    assert overrides.like(True, "false") is False
    with pytest.raises(overrides.PathError):
        overrides.set_at(document, "head.NEW", "x")  # replaces, never adds
    assert dict(overrides.leaf_paths(document))["head.I"] == 2


# ---------------------------------------------------------------- the admin page


def override_url(record: SyncRecord) -> str:
    return f"/admin/integrations/syncrecord/{record.pk}/override/"


def test_admin_form_confirm_retry_and_history_on_the_record_page(client, operator):
    record = stuck_record()
    client.force_login(operator)
    page = client.get(f"/admin/integrations/syncrecord/{record.pk}/change/").content.decode()
    assert 'id="override-link"' in page
    form = client.get(override_url(record))
    assert form.status_code == 200
    # The field the error blames is preselected (error field ITNO, value BAD).
    assert form.context["form"].initial["field"] == "lines.1.ITNO"

    data = {"field": "lines.1.ITNO", "value": "B-2", "reason": "ERP item is B-2"}
    confirm = client.post(override_url(record), data)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert 'id="confirm-old">BAD<' in html and 'id="confirm-new">B-2<' in html
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION  # nothing done before the confirmation

    done = client.post(override_url(record), {**data, "confirm": "1"})
    assert done.status_code == 302
    record = run(record)
    assert record.status == Status.SUCCEEDED
    page = client.get(f"/admin/integrations/syncrecord/{record.pk}/change/").content.decode()
    assert "ERP item is B-2" in page  # the history, with who and why
    assert "lines.1.ITNO = B-2" in page  # the attempt that used it says so
    assert 'id="override-link"' not in page  # succeeded: nothing to override


def test_admin_refusal_shows_the_reason_on_the_form(client, operator):
    record = stuck_record()
    client.force_login(operator)
    response = client.post(
        override_url(record), {"field": "head.PRIO", "value": "soon", "reason": "r"}
    )
    assert response.status_code == 200
    assert "value &#x27;soon&#x27; is not a number" in response.content.decode()
    missing = client.post(override_url(record), {"field": "head.PRIO", "value": "4"})
    assert "This field is required." in missing.content.decode()
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


@pytest.mark.parametrize("role", ["Viewer", "Integration admin"])
def test_admin_page_is_403_and_hidden_for_who_may_not_retry(client, django_user_model, role):
    record = stuck_record()
    client.force_login(user_in(django_user_model, role))
    page = client.get(f"/admin/integrations/syncrecord/{record.pk}/change/")
    assert page.status_code == 200
    assert 'id="override-link"' not in page.content.decode()
    assert client.get(override_url(record)).status_code == 403
    data = {"field": "lines.1.ITNO", "value": "B-2", "reason": "r", "confirm": "1"}
    assert client.post(override_url(record), data).status_code == 403
    record.refresh_from_db()
    assert record.status == Status.NEEDS_ATTENTION


def test_resolving_by_hand_ends_an_active_override(operator):
    from integrations.services.records import sync_record_resolve

    record = stuck_record()
    sync_record_retry_with_override(
        record=record, field="head.WHLO", value="300", user=operator, reason="ships from 300"
    )
    record = run(record)  # still BAD
    assert record.status == Status.NEEDS_ATTENTION
    sync_record_resolve(record=record, note="entered in M3 by hand", user=operator)
    record.refresh_from_db()
    state = overrides.state_of(record.context)
    assert state["active"] == {}
    assert state["history"][-1]["event"] == "cleared"
    assert state["history"][-1]["reason"].startswith("record resolved by ops")
