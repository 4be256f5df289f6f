"""The flow view: counts per step and status from one grouped query, links that list exactly
the records counted, the page and its JSON for each role."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.models import Status, Step, SyncRecord
from integrations.selectors_flow_view import flow_pictures, flow_step_groups
from tests.console.conftest import user_in
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = pytest.mark.django_db

RECORDS = reverse("admin:integrations_syncrecord_changelist")
FLOWS = reverse("console_flows")
FLOWS_JSON = reverse("console_flows_data")


def make(integration, status, step="", n=1, *, age=None, **extra):
    """n records at (status, step); `age` moves their last update into the past."""
    if status == Status.RUNNING:
        extra.setdefault("claim_token", "token")
    records = [
        SyncRecordFactory(integration=integration, status=status, step=step, **extra)
        for _ in range(n)
    ]
    if age is not None:
        SyncRecord.objects.filter(pk__in=[r.pk for r in records]).update(
            updated_at=timezone.now() - age
        )
    return records


@pytest.fixture
def shop_a():
    """One integration with records at every kind of place a flow can hold them."""
    integration = IntegrationFactory(slug="shop-a", name="Shop A")
    make(integration, Status.PENDING, "", 2)  # not run yet: waiting at extract
    make(integration, Status.RETRYING, Step.LOAD)
    make(integration, Status.RUNNING, "")
    make(integration, Status.NEEDS_ATTENTION, Step.TRANSFORM, 3)
    make(integration, Status.DEAD, Step.LOAD)
    make(integration, Status.SUCCEEDED, Step.RECONCILE, 4)
    make(integration, Status.SKIPPED, Step.EXTRACT)
    make(integration, Status.SUCCEEDED, Step.VALIDATE)  # resolved by hand at validate
    # Old: an open record still counts where it waits; a finished one no longer "passed".
    make(integration, Status.NEEDS_ATTENTION, Step.VALIDATE, age=timedelta(days=3))
    make(integration, Status.SUCCEEDED, Step.RECONCILE, age=timedelta(days=3))
    return integration


def boxes_of(picture):
    return {box.step: box for box in picture.steps}


def figures(box):
    return {kind: count.n for kind, count in box.counts().items()}


def test_counts_per_step_and_status(shop_a):
    [picture] = flow_pictures(integration=shop_a)["flows"]
    assert (picture.integration_slug, picture.flow) == ("shop-a", "test_noop")
    assert [box.step for box in picture.steps] == list(Step)
    boxes = boxes_of(picture)

    assert figures(boxes[Step.EXTRACT]) == {
        "waiting": 2,
        "running": 1,
        "failed": 0,
        "dead": 0,
        # Recent records beyond extract: retrying 1, needs attention 3, dead 1, succeeded 4,
        # resolved at validate 1.
        "passed": 10,
        "skipped": 1,
        "resolved": 0,
    }
    assert figures(boxes[Step.TRANSFORM]) == {
        "waiting": 0,
        "running": 0,
        "failed": 3,
        "dead": 0,
        "passed": 7,
        "skipped": 0,
        "resolved": 0,
    }
    validate = figures(boxes[Step.VALIDATE])
    assert (validate["failed"], validate["resolved"], validate["passed"]) == (1, 1, 6)
    load = figures(boxes[Step.LOAD])
    assert (load["waiting"], load["failed"], load["dead"], load["passed"]) == (1, 1, 1, 4)
    reconcile = figures(boxes[Step.RECONCILE])
    assert (reconcile["waiting"], reconcile["failed"], reconcile["passed"]) == (0, 0, 4)
    assert "resolved" not in reconcile  # succeeding at the last step is passing it
    assert picture.open == 2 + 1 + 1 + 3 + 1 + 1


def test_the_counts_come_from_one_grouped_query(shop_a):
    IntegrationFactory(slug="shop-b")
    with CaptureQueriesContext(connection) as queries:
        flow_pictures()
    record_queries = [q for q in queries if "integrations_syncrecord" in q["sql"]]
    assert len(record_queries) == 1, [q["sql"] for q in record_queries]
    assert "GROUP BY" in record_queries[0]["sql"]


def test_groups_leave_out_finished_records_outside_the_window(shop_a):
    since = timezone.now() - timedelta(hours=24)
    groups = flow_step_groups(since=since, integration_id=shop_a.pk)
    succeeded = [g for g in groups if g["status"] == Status.SUCCEEDED and g["step"] == "reconcile"]
    assert [(g["total"], g["recent"]) for g in succeeded] == [(4, 4)]
    stale = [g for g in groups if g["status"] == Status.NEEDS_ATTENTION and g["step"] == "validate"]
    assert [(g["total"], g["recent"]) for g in stale] == [(1, 0)]


def test_each_integration_and_flow_is_its_own_row(shop_a):
    other = IntegrationFactory(slug="shop-b", enabled_flows=["test_noop", "inventory"])
    make(other, Status.NEEDS_ATTENTION, Step.TRANSFORM)
    make(shop_a, Status.DEAD, Step.EXTRACT, flow="customers")  # a flow not enabled any more

    everything = flow_pictures()["flows"]
    keys = [(p.integration_slug, p.flow) for p in everything]
    assert keys == [
        ("shop-a", "customers"),
        ("shop-a", "test_noop"),
        ("shop-b", "inventory"),
        ("shop-b", "test_noop"),
    ]
    by_key = {(p.integration_slug, p.flow): p for p in everything}
    assert boxes_of(by_key["shop-b", "test_noop"])[Step.TRANSFORM].failed.n == 1
    assert boxes_of(by_key["shop-a", "test_noop"])[Step.TRANSFORM].failed.n == 3
    assert boxes_of(by_key["shop-a", "customers"])[Step.EXTRACT].dead.n == 1
    # An enabled flow with no record yet is drawn, all zeros.
    assert all(n == 0 for box in by_key["shop-b", "inventory"].steps for n in figures(box).values())

    only_b = flow_pictures(integration=other)["flows"]
    assert [(p.integration_slug, p.flow) for p in only_b] == [
        ("shop-b", "inventory"),
        ("shop-b", "test_noop"),
    ]


def test_empty_state():
    assert flow_pictures()["flows"] == []
    integration = IntegrationFactory(enabled_flows=[])
    assert flow_pictures(integration=integration)["flows"] == []


def test_every_count_links_to_exactly_its_records(client, viewer, shop_a):
    """Each count's filter, applied by the record list itself, lists as many records."""
    other = IntegrationFactory(slug="shop-b")
    make(other, Status.NEEDS_ATTENTION, Step.TRANSFORM, 2)  # must not leak into shop-a's links
    make(shop_a, Status.PENDING, "", flow="customers")  # nor another flow's
    client.force_login(viewer)
    checked = 0
    for picture in flow_pictures()["flows"]:
        for box in picture.steps:
            for kind, count in box.counts().items():
                response = client.get(RECORDS, count.filters)
                assert response.status_code == 200, (picture.key, box.step, kind, response)
                listed = response.context["cl"].result_count
                assert listed == count.n, (picture.key, box.step, kind, count.filters)
                checked += 1
    assert checked == 3 * (5 * 7 - 1)


def test_a_failed_count_lists_the_records_that_failed_there(client, viewer, shop_a):
    stuck = set(
        SyncRecord.objects.filter(
            integration=shop_a, status=Status.NEEDS_ATTENTION, step=Step.TRANSFORM
        ).values_list("pk", flat=True)
    )
    [picture] = flow_pictures(integration=shop_a)["flows"]
    client.force_login(viewer)
    response = client.get(RECORDS, boxes_of(picture)[Step.TRANSFORM].failed.filters)
    assert {r.pk for r in response.context["cl"].result_list} == stuck


# ---------------------------------------------------------------- the pages


def test_viewer_sees_the_flow_view_with_links(client, viewer, shop_a):
    client.force_login(viewer)
    response = client.get(FLOWS)
    assert response.status_code == 200
    page = response.text
    key = f"{shop_a.pk}:test_noop"
    assert f'data-flow-key="{key}"' in page
    failed = re.search(
        rf'data-count="{key}:transform:failed" href="([^"]+)"><span class="n">(\d+)</span>', page
    )
    assert failed and failed.group(2) == "3"
    href = failed.group(1).replace("&amp;", "&")
    assert href.startswith(RECORDS + "?")
    listed = client.get(href)
    assert listed.status_code == 200 and listed.context["cl"].result_count == 3

    one = client.get(reverse("console_flows_integration", args=["shop-a"]))
    assert one.status_code == 200 and f'data-flow-key="{key}"' in one.text


def test_the_pages_have_no_inline_script_or_handler(client, viewer, shop_a):
    """script-src 'self': code only from static files, data only by JSON."""
    client.force_login(viewer)
    for url in (FLOWS, reverse("console_flows_integration", args=["shop-a"]), "/admin/console/"):
        page = client.get(url).text
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert scripts, url
        assert all(" src=" in tag or "application/json" in tag for tag in scripts), scripts
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), url
        assert "chart.umd.min.js" in page and "charts.js" in page


def test_the_dashboard_links_to_the_flow_view(client, viewer, shop_a):
    client.force_login(viewer)
    page = client.get("/admin/console/").text
    assert f'href="{FLOWS}"' in page
    assert reverse("console_flows_integration", args=["shop-a"]) in page


def test_json_has_the_same_counts_and_links(client, viewer, shop_a):
    client.force_login(viewer)
    response = client.get(FLOWS_JSON, {"integration": "shop-a"})
    assert response.status_code == 200
    [flow] = response.json()["flows"]
    assert flow["key"] == f"{shop_a.pk}:test_noop"
    transform = next(s for s in flow["steps"] if s["step"] == "transform")
    assert transform["counts"]["failed"]["n"] == 3
    assert client.get(transform["counts"]["failed"]["url"]).context["cl"].result_count == 3
    assert len(client.get(FLOWS_JSON).json()["flows"]) == 1


def test_unknown_integration_and_bad_refresh_are_refused_with_a_reason(client, viewer):
    client.force_login(viewer)
    missing = client.get(FLOWS_JSON, {"integration": "nope"})
    assert missing.status_code == 404
    assert "'nope'" in missing.json()["message"]
    assert client.get(reverse("console_flows_integration", args=["nope"])).status_code == 404
    for bad in ("abc", "1", "9999", "-5", "<script>alert(1)</script>"):
        response = client.get(FLOWS, {"refresh": bad})
        assert response.status_code == 400
        assert "refresh must be" in response.text
        assert response["Content-Type"].startswith("text/plain")
    assert client.get(FLOWS, {"refresh": "3"}).status_code == 200


def test_anonymous_is_sent_to_log_in(client, shop_a):
    for url in (FLOWS, FLOWS_JSON, reverse("console_flows_integration", args=["shop-a"])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_staff_without_the_view_permission_is_refused(client, django_user_model, shop_a):
    nobody = user_in(django_user_model, username="nobody")
    client.force_login(nobody)
    assert client.get(FLOWS).status_code == 403
    assert client.get(FLOWS_JSON).status_code == 403


@pytest.mark.parametrize("role", ["Viewer", "Operator", "Integration admin"])
def test_every_role_may_look(client, django_user_model, shop_a, role):
    client.force_login(user_in(django_user_model, role, username=role.split()[0].lower()))
    assert client.get(FLOWS).status_code == 200
    assert client.get(FLOWS_JSON).status_code == 200
