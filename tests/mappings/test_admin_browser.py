"""In a real browser: edit a mapping, preview a real record, see the validation error, fix
it, save, and preview again. Needs Debian's chromium (apt-get install chromium)."""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.factories import IntegrationFactory, SyncRecordFactory
from tests.mappings.conftest import make_order
from tests.mappings.factories import order_head_set

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture
def page(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still synchronous, so Django's async guard must stand aside.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()
            # The ORM calls made while Playwright ran opened a connection of their own (its
            # sync API switches greenlets, so Django sees another context): close it, or the
            # test database cannot be dropped at the end of the run.
            connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_edit_preview_fix_save(page, live_server, django_user_model):
    assert os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] == "true"
    django_user_model.objects.create_superuser("ops", "ops@example.com", "secret-pass-1")
    integration = IntegrationFactory()
    mapping_set = order_head_set(integration=integration, name="Order head")
    record = SyncRecordFactory(
        integration=integration,
        flow="order_to_cash",
        direction="shop_to_erp",
        reference="XKBKNABJK",
        payload_in=make_order().model_dump(mode="json"),
    )

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "secret-pass-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    # Edit: prefix the shop reference, which makes it longer than the 20 characters allowed.
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    cuor_row = _row_index(page, "CUOR")
    page.fill(f"[name=fields-{cuor_row}-source]", "join('', ['PS-ORDER-', reference, '-WEB'])")

    # Preview the unsaved edit on the real record (a new tab): the error names field, value
    # and limit.
    with page.expect_popup() as opened:
        page.click("#preview-draft")
    preview = opened.value
    preview.wait_for_selector("#preview-result")
    assert "Unsaved changes" in preview.locator("#draft-banner").inner_text()
    violation = preview.locator("#preview-violations").inner_text()
    assert "CUOR: value 'PS-ORDER-XKBKNABJK-WEB' is 22 long, the limit is 20" in violation
    preview.close()

    # Fix it in the still-open form (truncate to the target's length), preview, save.
    page.fill(f"[name=fields-{cuor_row}-transforms]", "strip | upper | truncate")
    with page.expect_popup() as opened:
        page.click("#preview-draft")
    preview = opened.value
    preview.wait_for_selector("#preview-result")
    assert preview.locator("#preview-ok").is_visible()
    preview.close()
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    # The saved set previews the same way.
    page.click("a.mapping-preview-link")
    page.select_option("#id_record", str(record.pk))
    page.click("input[name=_preview]")
    assert page.locator("#preview-ok").is_visible()
    assert '"CUOR": "PS-ORDER-XKBKNABJK-W"' in page.locator("#preview-output").inner_text()

    # A typo in an expression is refused at save, pointing at it.
    page.goto(f"{live_server.url}/admin/mappings/mappingset/{mapping_set.pk}/change/")
    page.fill(f"[name=fields-{cuor_row}-source]", "reference[")
    page.click("input[name=_continue]")
    assert "does not parse" in page.locator(".errorlist").first.inner_text()


def _row_index(page, target: str) -> int:
    selects = page.locator("select[name$='-target_field']")
    for index in range(selects.count()):
        if selects.nth(index).input_value() == target:
            name = selects.nth(index).get_attribute("name")
            return int(name.split("-")[1])
    raise AssertionError(f"no row for {target}")
