"""Benchmark settings: the test settings (throwaway keys, bench flows), on a database of its
own under var/ unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("TEST_DB_SUFFIX", "bench")

from config.test_settings import *  # noqa: F403
from config.test_settings import DATABASES, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = str(VAR_DIR / "bench.sqlite3")

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
