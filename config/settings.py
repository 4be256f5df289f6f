"""Settings for development, the demo and tests; production tightens them in config.production.

Everything that differs between deployments comes from the environment (django-environ),
optionally through a `.env` file beside manage.py (the demo writes one with fresh keys).
"""

from pathlib import Path

import environ

from config.q2 import q_cluster_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state: the SQLite database, benchmark scratch files
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The development fallback only exists so that `manage.py` works before the demo writes .env;
# config.production refuses it.
SECRET_KEY = env.str(
    "SECRET_KEY", default="insecure-development-key-set-SECRET_KEY-in-the-environment"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Newest key first. Older keys still decrypt until `manage.py rotate_credentials_key` has run.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "import_export",
    "simple_history",
    "django_q",
    "csp",
    "axes",
    "connectors",
    "mappings",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the q2 cluster and its ORM broker write to one file: WAL lets readers
    # go on during a write, IMMEDIATE takes the write lock up front instead of failing on
    # upgrade, and the timeout waits for the lock rather than raising "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Assigned, not setdefault: DATABASE_URL parsing already puts CONN_MAX_AGE=0 in the dict,
    # which would open a new connection for every request (measured: ~220 req/s vs ~1,500).
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")

ADMIN_URL = env.str("ADMIN_URL", default="admin/")

REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = q_cluster_settings(env, redis_url=REDIS_URL)
# Shared by every process (the API's per-token throttle, the ERP's OAuth tokens): Redis when
# there is one; without it each process counts alone (development, one process).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="shopsync"),
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Modules whose import registers flows (integrations.flows.registry.register).
SYNC_FLOW_MODULES = env.list(
    "SYNC_FLOW_MODULES",
    default=[
        "integrations.flows.inventory",
        "integrations.flows.products",
        "integrations.flows.customers",
        "integrations.flows.order_to_cash",
        "integrations.flows.status_back",
    ],
)
SYNC_EXTRA_FLOW_MODULES = env.list("SYNC_EXTRA_FLOW_MODULES", default=[])
# Pipeline knobs (integrations.pipeline): claim lease, records per task, I/O threads per task.
SYNC_CLAIM_LEASE_SECONDS = env.int("SYNC_CLAIM_LEASE_SECONDS", default=600)
# Sweep (integrations.sweep): a queued task that has not claimed its record after this long is
# presumed lost (killed worker, broker restart) and queued again; records queued per sweep.
SYNC_ENQUEUE_STALE_SECONDS = env.int("SYNC_ENQUEUE_STALE_SECONDS", default=300)
SYNC_SWEEP_LIMIT = env.int("SYNC_SWEEP_LIMIT", default=5000)
SYNC_BATCH_SIZE = env.int("SYNC_BATCH_SIZE", default=50)
SYNC_IO_CONCURRENCY = env.int("SYNC_IO_CONCURRENCY", default=8)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request gets 401 with WWW-Authenticate: Token.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.api.throttling.ApiUserRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON with a size and a depth cap; forms for the browsable API's own pages.
    "DEFAULT_PARSER_CLASSES": [
        "integrations.api.parsers.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "integrations.api.exceptions.api_exception_handler",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Every handler redacts: a credential must never reach a log line, whoever logs it.
        "redact": {"()": "connectors.redaction.RedactingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact"],
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every successful login at INFO; failures that lock out are WARNINGs.
    "loggers": {"axes": {"level": env.str("AXES_LOG_LEVEL", default="WARNING")}},
}

# Incoming webhooks (integrations.webhooks) and outgoing events (integrations.subscriptions).
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
WEBHOOK_MAX_JSON_DEPTH = env.int("WEBHOOK_MAX_JSON_DEPTH", default=32)
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=100)
EVENT_DELIVERY_TIMEOUT_SECONDS = env.float("EVENT_DELIVERY_TIMEOUT_SECONDS", default=5.0)
EVENT_DELIVERY_MAX_ATTEMPTS = env.int("EVENT_DELIVERY_MAX_ATTEMPTS", default=8)
# Pollers (integrations.pollers): how far each run re-reads behind its cursor.
POLL_OVERLAP_SECONDS = env.int("POLL_OVERLAP_SECONDS", default=300)
# Seconds between two webhook-processing tasks queued by one process (the rest coalesce).
WEBHOOK_ENQUEUE_INTERVAL_SECONDS = env.float("WEBHOOK_ENQUEUE_INTERVAL_SECONDS", default=0.2)
# How far back a poller's very first run reads (hours); older changes are not replayed.
POLL_INITIAL_LOOKBACK_HOURS = env.int("POLL_INITIAL_LOOKBACK_HOURS", default=24)
# Seconds a web process reuses an integration's webhook secrets before reading them again.
WEBHOOK_SECRET_CACHE_SECONDS = env.float("WEBHOOK_SECRET_CACHE_SECONDS", default=2.0)
# Modules whose import registers ERP poller streams (integrations.pollers.registry.register).
SYNC_POLLER_MODULES = env.list("SYNC_POLLER_MODULES", default=[])

# REST API (integrations.api): requests per token (per user) and window, e.g. "1200/min".
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="1200/min")
# JSON request bodies (integrations.api.parsers): bytes and nesting accepted.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
SPECTACULAR_SETTINGS = {
    "TITLE": "ShopSync",
    "DESCRIPTION": "Sync records, order-to-cash reports, reconciliation and configuration.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Separate request and response components, so write-only fields (credentials) show only
    # on the request side.
    "COMPONENT_SPLIT_REQUEST": True,
    # Connection.system and MappingSet.target_system share one set of values: one enum.
    "ENUM_NAME_OVERRIDES": {"SystemEnum": "connectors.models.System"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.schema.add_error_responses",
    ],
}

# Alerts (integrations.alerts, every 5 minutes): who is told, by e-mail and by a signed webhook.
CONSOLE_ALERT_EMAILS = env.list("CONSOLE_ALERT_EMAILS", default=[])
CONSOLE_ALERT_WEBHOOK_URL = env.str("CONSOLE_ALERT_WEBHOOK_URL", default="") or None
CONSOLE_ALERT_WEBHOOK_SECRET = env.str("CONSOLE_ALERT_WEBHOOK_SECRET", default="") or None

# Where connections may point (connectors.validators, the SSRF guard). Development allows
# loopback for the built-in simulators; production allows no internal network unless listed.
CONNECTION_REQUIRE_HTTPS = env.bool("CONNECTION_REQUIRE_HTTPS", default=False)
CONNECTION_ALLOWED_NETWORKS = env.list(
    "CONNECTION_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
CONNECTION_ALLOW_PRIVATE_NETWORKS = env.bool("CONNECTION_ALLOW_PRIVATE_NETWORKS", default=True)

# django-import-export: without these codes any staff member may import (found by
# tests/security/test_authorization.py). Importing changes rows; exporting reads them.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# Security headers and login throttling (issue #14; tests/security/test_headers.py).
# The policy allows only our own scripts: the admin, the console, the browsable API and the
# docs page load no script from elsewhere and run no inline script. Inline style attributes
# are allowed (the admin's templates and ours use them; styles cannot run code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# django-axes: N failed logins lock out that user name from that address for a while.
# Username and address together, so nobody can lock a colleague out from elsewhere.
AUTHENTICATION_BACKENDS = [
    "config.auth_backends.AxesLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no start-up banner on every manage.py command
# Behind a reverse proxy set this to the number of proxies, so the client address is read
# from X-Forwarded-For (otherwise every login shares the proxy's address).
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)
