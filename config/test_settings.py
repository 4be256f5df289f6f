"""Test settings: the development settings with throwaway keys and per-run test databases.

The keys are generated per test run (never committed) and put in the environment so that
subprocesses started by tests (manage.py, the q2 cluster) share them. Databases and queues
are suffixed per run, so that several runs on one machine never share state.
"""

import os

from cryptography.fernet import Fernet

os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("SECRET_KEY", Fernet.generate_key().decode() * 2)
RUN_SUFFIX = os.environ.setdefault("TEST_DB_SUFFIX", str(os.getpid()))

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, Q_CLUSTER, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that threads and processes in concurrency tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{RUN_SUFFIX}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_shopsync_{RUN_SUFFIX}"}
    # Pipeline I/O threads live on between batches; with persistent connections they would
    # hold the test database open and block its teardown.
    DATABASES["default"]["CONN_MAX_AGE"] = 0

SYNC_EXTRA_FLOW_MODULES = ["tests.support.flows"]

Q_CLUSTER = {**Q_CLUSTER, "name": f"test-{RUN_SUFFIX}", "log_level": "WARNING"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests clear the cache between cases (cache.clear()); on Redis that would empty the database
# the run's q2 broker queues in. Each test process keeps its own; tests/api/test_throttling.py
# checks the Redis cache across processes on its own key prefix.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
