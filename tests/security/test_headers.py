"""Security headers on real responses, login throttling and password rules.

Production settings are exercised in a subprocess (config.production refuses development
keys, so it cannot be loaded into this test run); development settings carry the same CSP,
X-Frame-Options and lockout, asserted here on the test client's responses.
"""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

ROOT = Path(__file__).resolve().parents[2]

# Run under config.production: GET pages with Django's test client (a real request through
# the whole middleware stack) and print status, headers and cookies as JSON.
PRODUCTION_PROBE = r"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
out = {}
client = Client(HTTP_HOST="sync.example.com")
for name, url, secure in [
    ("login", "/" + settings.ADMIN_URL + "login/", True),
    ("login_http", "/" + settings.ADMIN_URL + "login/", False),
    ("old_admin", "/admin/login/", True),
    ("webhook", "/webhooks/demo/prestashop/", True),
]:
    r = client.get(url, secure=secure)
    out[name] = {
        "status": r.status_code,
        "headers": dict(r.headers),
        "cookies": {k: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]),
                        "samesite": m["samesite"]} for k, m in r.cookies.items()},
    }
out["settings"] = {k: getattr(settings, k) for k in (
    "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_SECURE",
    "CONNECTION_REQUIRE_HTTPS", "CONNECTION_ALLOWED_NETWORKS", "DEBUG")}
from django.contrib.auth.password_validation import password_validators_help_texts
out["password_rules"] = password_validators_help_texts()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def production():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "ADMIN_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.production",
        SECRET_KEY="k" * 10 + Fernet.generate_key().decode() * 2,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="sync.example.com",
        ADMIN_URL="backoffice-7f3a/",
        # The probe needs no table: the pages it reads do not touch the database.
        DATABASE_URL="sqlite:///:memory:",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_production_sends_hsts_csp_and_frame_headers(production):
    headers = production["login"]["headers"]
    assert production["login"]["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csp = csp_directives(headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    # Also on answers that are not pages.
    assert "Content-Security-Policy" in production["webhook"]["headers"]


def test_production_redirects_plain_http_to_https(production):
    login_http = production["login_http"]
    assert login_http["status"] == 301
    assert login_http["headers"]["Location"].startswith("https://sync.example.com/")


def test_production_cookies_are_secure(production):
    csrf = production["login"]["cookies"]["csrftoken"]
    assert csrf["secure"]
    assert csrf["samesite"] == "Lax"
    assert production["settings"]["SESSION_COOKIE_SECURE"]
    assert production["settings"]["SESSION_COOKIE_HTTPONLY"]
    assert production["settings"]["DEBUG"] is False


def test_admin_url_comes_from_the_environment(production):
    assert production["login"]["status"] == 200
    assert production["old_admin"]["status"] == 404


def test_production_refuses_internal_connections_and_wants_long_passwords(production):
    assert production["settings"]["CONNECTION_REQUIRE_HTTPS"] is True
    assert production["settings"]["CONNECTION_ALLOWED_NETWORKS"] == []
    assert any("at least 12 characters" in rule for rule in production["password_rules"])


# ------------------------------------------------------------- development / test settings


class Scripts(HTMLParser):
    """Collects every <script>: its src, or whether it is inline executable code."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.handlers += [name for name in attributes if name.startswith("on")]
        if tag == "script":
            self._open = attributes

    def handle_data(self, data):
        # JSON data blocks (json_script, DRF's CSRF block) are not executed.
        if (
            self._open is not None
            and not self._open.get("src")
            and data.strip()
            and self._open.get("type") != "application/json"
        ):
            self.inline.append(data.strip()[:80])

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            if self._open.get("src"):
                self.sources.append(self._open["src"])
            self._open = None


def assert_csp_safe(response) -> Scripts:
    """The page runs under script-src 'self': own scripts only, nothing inline."""
    assert response.status_code == 200, response.status_code
    assert csp_directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]
    scripts = Scripts()
    scripts.feed(response.content.decode())
    assert scripts.inline == [], scripts.inline
    assert scripts.handlers == [], scripts.handlers
    for src in scripts.sources:
        assert src.startswith("/static/") or not re.match(r"^(https?:)?//", src), src
    return scripts


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/console/",
        "/admin/integrations/syncrecord/",
        "/admin/connectors/connection/add/",
        "/admin/mappings/mappingset/",
        "/api/v1/sync-records/",  # the browsable API
        "/api/docs/",
    ],
)
def test_pages_that_must_keep_working_under_the_policy(superuser_client, url):
    response = superuser_client.get(url, HTTP_ACCEPT="text/html")
    assert_csp_safe(response)
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_login_page_has_the_headers(client):
    response = client.get("/admin/login/")
    assert_csp_safe(response)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


# ------------------------------------------------------------------- login throttling


def admin_login(client, username: str, password: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR="203.0.113.7",
    )


@pytest.mark.django_db
def test_admin_login_locks_out_after_the_configured_failures(client, django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_superuser("ops", password="right-password-1")
    for _ in range(2):
        assert admin_login(client, "ops", "wrong").status_code == 200  # the form again
    assert admin_login(client, "ops", "wrong").status_code == 429
    # Locked: even the right password is refused now, from this address.
    assert admin_login(client, "ops", "right-password-1").status_code == 429
    assert "_auth_user_id" not in client.session
    # Someone else from the same address is not locked out by it.
    django_user_model.objects.create_superuser("other", password="right-password-2")
    assert admin_login(client, "other", "right-password-2").status_code == 302


@pytest.mark.django_db
def test_a_successful_login_resets_the_count(client, django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_superuser("ops", password="right-password-1")
    for _ in range(2):
        admin_login(client, "ops", "wrong")
    assert admin_login(client, "ops", "right-password-1").status_code == 302
    client.logout()
    for _ in range(2):
        assert admin_login(client, "ops", "wrong").status_code == 200


@pytest.mark.django_db
def test_token_and_in_process_logins_still_work(client, django_user_model):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = django_user_model.objects.create_superuser("api", password="right-password-1")
    assert client.login(username="api", password="right-password-1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert api.get("/api/v1/sync-records/").status_code == 200


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901234"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)
