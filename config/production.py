"""Production settings: refuse to start on development defaults, and pass `check --deploy`.

Use with DJANGO_SETTINGS_MODULE=config.production.
"""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403
from config.settings import ALLOWED_HOSTS, FIELD_ENCRYPTION_KEYS, SECRET_KEY, env

DEBUG = False

# Django's own deploy check rejects short or "django-insecure-" keys; ours also rejects the
# development fallback and anything with too few distinct characters.
if (
    SECRET_KEY.startswith(("insecure-", "django-insecure-"))
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment to a random value of at least 50 characters "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must list at least one Fernet key, newest first (python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
    )
for _position, _key in enumerate(FIELD_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEYS entry {_position} is not a valid Fernet key: {exc}"
        ) from None
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the hosts this site is served on.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Connections (connectors.validators): https only, and no loopback or other internal network
# unless CONNECTION_ALLOWED_NETWORKS lists it (e.g. an on-premises M3 at 10.1.2.3/32).
CONNECTION_REQUIRE_HTTPS = env.bool("CONNECTION_REQUIRE_HTTPS", default=True)
CONNECTION_ALLOWED_NETWORKS = env.list("CONNECTION_ALLOWED_NETWORKS", default=[])

# Passwords of people who can reach the credentials of a shop and an ERP: 12 characters.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
