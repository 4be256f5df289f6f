"""Users in each of the three roles the 0005 migration creates; a browser page."""

import importlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.db import connections

# The simulators and the integration wired to them, as the end-to-end tests use them.
from tests.e2e.conftest import _fresh_caches, m3, m3_integration, shop  # noqa: F401

ROLES = ("Integration admin", "Operator", "Viewer")


def roles_ensure() -> None:
    """The groups as the 0005 migration makes them (a transactional test's flush drops them)."""
    if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
        roles = importlib.import_module("integrations.migrations.0005_roles")
        roles.roles_create(django_apps, None)


def user_in(django_user_model, *groups: str, username: str | None = None):
    roles_ensure()
    user = django_user_model.objects.create_user(
        username or "-".join(g.split()[0].lower() for g in groups),
        password="secret-pass-1",
        is_staff=True,
    )
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def operator(django_user_model):
    return user_in(django_user_model, "Operator")


@pytest.fixture
def viewer(django_user_model):
    return user_in(django_user_model, "Viewer")


@pytest.fixture
def integration_admin(django_user_model):
    return user_in(django_user_model, "Integration admin")


# ---------------------------------------------------------------- the browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(request, monkeypatch):
    """A chromium page; on a failed test its screenshot goes to var/screenshots/<test>.png."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still synchronous, so Django's async guard must stand aside.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(15_000)
            page = context.new_page()
            yield page
            report = getattr(request.node, "rep_call", None)
            if report is not None and report.failed:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        finally:
            browser.close()
            # ORM calls made while Playwright ran opened a connection of their own: close it,
            # or the test database cannot be dropped at the end of the run.
            connections.close_all()


def login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
