"""The pages people use keep working under the Content-Security-Policy: chromium loads each
one as a signed-in Integration admin and reports no CSP violation and no script error."""

import pytest

from tests.console.conftest import login, page, user_in  # noqa: F401 (fixture)
from tests.factories import IntegrationFactory, SyncRecordFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/admin/",
    "/admin/console/",
    "/admin/console/flows/",
    "/admin/integrations/syncrecord/",
    "/admin/connectors/connection/add/",
    "/admin/mappings/mappingset/",
    "/api/v1/sync-records/",  # the browsable API (jQuery, bootstrap: DRF's static files)
    "/api/docs/",
]


def test_pages_load_without_csp_violations(page, live_server, django_user_model):  # noqa: F811
    SyncRecordFactory(integration=IntegrationFactory(slug="csp"))
    user_in(django_user_model, "Integration admin", "Operator", username="csp")
    problems: list[str] = []
    page.on(
        "console",
        # A failed load is reported by the "response" handler with its URL.
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    login(page, live_server.url, "csp")
    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        # Violations also fire as DOM events; collect any the console did not show.
        page.evaluate(
            "() => { window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"
        )
        page.wait_for_load_state("networkidle")
        problems += [f"{path}: {v}" for v in page.evaluate("() => window.__csp")]
    assert not problems, "\n".join(problems)
