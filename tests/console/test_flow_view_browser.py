"""The flow view and the charts in a real browser (Debian's chromium), under the project's
Content-Security-Policy: a viewer goes from the dashboard to the flow view, reads the counts,
sees them refresh by themselves, clicks one and lands on exactly those records; the charts draw
on their canvases without a JavaScript error."""

import pytest

from integrations.models import Status, Step, SyncRecord
from tests.console.conftest import login, user_in
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip("playwright.sync_api").expect


def collect_errors(page) -> list[str]:
    """JavaScript errors and console errors (a CSP refusal is one) seen by the page; the
    browser's own favicon request (the admin has none) is not ours."""
    errors: list[str] = []

    def on_console(message) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):
            errors.append(f"console: {message.text} at {url}")

    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", on_console)
    return errors


def throughput_total(page) -> int:
    # page.evaluate runs over the DevTools protocol, outside the page's CSP (unlike
    # wait_for_function, which would need 'unsafe-eval').
    return page.evaluate(
        "window.Chart.getChart(document.querySelector('#chart-throughput'))"
        ".data.datasets[0].data.reduce((a, b) => a + b, 0)"
    )


def test_viewer_reads_the_flow_view_and_follows_a_count(page, live_server, django_user_model):
    integration = IntegrationFactory(slug="shop-a", name="Shop A")
    stuck = [
        SyncRecordFactory(
            integration=integration,
            status=Status.NEEDS_ATTENTION,
            step=Step.TRANSFORM,
            reference=f"PSSTUCK{n}",
        )
        for n in range(2)
    ]
    SyncRecordFactory(integration=integration, status=Status.PENDING)
    done = SyncRecordFactory(integration=integration, status=Status.SUCCEEDED, step=Step.RECONCILE)
    SyncRecord.objects.filter(pk=done.pk).update(finished_at=done.updated_at)
    user_in(django_user_model, "Viewer", username="viewer")
    errors = collect_errors(page)
    login(page, live_server.url, "viewer")

    # From the dashboard to the flow view.
    page.goto(f"{live_server.url}/admin/console/")
    page.wait_for_selector("#panel-charts[data-loaded]")
    page.click("#flow-view-link")
    page.wait_for_selector("#flow-view")
    key = f"{integration.pk}:test_noop"
    flow = page.locator(f"section.flow[data-flow-key='{key}']")
    assert "Shop A" in flow.locator("h2").inner_text()
    steps = flow.locator("li.flow-step h3").all_inner_texts()
    assert [s.lower() for s in steps] == ["extract", "transform", "validate", "load", "reconcile"]
    failed = page.locator(f"[data-count='{key}:transform:failed'] .n")
    assert failed.inner_text() == "2"
    assert page.locator(f"[data-count='{key}:extract:waiting'] .n").inner_text() == "1"
    assert page.locator(f"[data-count='{key}:reconcile:passed'] .n").inner_text() == "1"
    assert "has-failed" in flow.locator("li.flow-step[data-step='transform']").get_attribute(
        "class"
    )

    # Live: a record that fails now shows up without reloading the page.
    page.goto(f"{live_server.url}/admin/console/flows/shop-a/?refresh=2")
    page.evaluate("document.getElementById('flow-view').dataset.marker = 'same page'")
    stuck.append(
        SyncRecordFactory(
            integration=integration,
            status=Status.NEEDS_ATTENTION,
            step=Step.TRANSFORM,
            reference="PSSTUCK2",
        )
    )
    expect(page.locator(f"[data-count='{key}:transform:failed'] .n")).to_have_text("3")
    assert page.evaluate("document.getElementById('flow-view').dataset.marker") == "same page"

    # A count is a link to exactly those records.
    page.click(f"[data-count='{key}:transform:failed']")
    page.wait_for_selector("#result_list")
    assert "/admin/integrations/syncrecord/" in page.url
    listed = page.locator("#result_list tbody tr").count()
    assert listed == 3
    text = page.locator("#result_list").inner_text()
    assert all(record.reference in text for record in stuck)
    assert "PSREF" not in text  # the pending and succeeded records are not in this list

    # The charts drew on the flow view's page too, and nothing went wrong in the browser.
    page.goto(f"{live_server.url}/admin/console/flows/shop-a/")
    page.wait_for_selector("#panel-charts[data-loaded]")
    for canvas in ("#chart-throughput", "#chart-latency"):
        box = page.locator(canvas).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (canvas, box)
        # Chart.js attaches itself to the canvas it drew on.
        assert page.evaluate(f"!!window.Chart.getChart(document.querySelector('{canvas}'))")
    assert throughput_total(page) == 1
    assert errors == []


def test_the_dashboard_charts_switch_integration(page, live_server, django_user_model):
    first = IntegrationFactory(slug="shop-a", name="Shop A")
    IntegrationFactory(slug="shop-b", name="Shop B")
    record = SyncRecordFactory(integration=first, status=Status.SUCCEEDED, step=Step.RECONCILE)
    SyncRecord.objects.filter(pk=record.pk).update(finished_at=record.updated_at)
    user_in(django_user_model, "Viewer", username="viewer")
    errors = collect_errors(page)
    login(page, live_server.url, "viewer")

    page.goto(f"{live_server.url}/admin/console/")
    page.wait_for_selector("#panel-charts[data-loaded]")
    assert throughput_total(page) == 1
    assert "1 record(s) finished" in page.locator("#chart-status").inner_text()
    page.select_option("#chart-integration", "shop-b")
    expect(page.locator("#chart-status")).to_contain_text("0 record(s) finished")
    assert throughput_total(page) == 0
    assert errors == []
