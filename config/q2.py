"""django-q2 cluster settings, tuned on purpose (see DESIGN.md, "Speed").

The database is the queue of record and q2 only the trigger: a task lost with its worker is
found again by the sweep, so q2 itself must never repeat or loop work on its own.
"""

from typing import Any

import environ

# A worker process is recycled after this many tasks. q2's default (500) made recycling the
# bottleneck on a 2-core machine (130-190 tasks/s); raised, the same cluster ran ~1,200/s.
DEFAULT_RECYCLE = 20_000
# Seconds a task may run before the worker is killed; a batch of records must fit in it.
DEFAULT_TIMEOUT = 300
# Seconds before the ORM broker re-delivers an unacknowledged task; must exceed the timeout
# or a slow task would run twice while still running.
DEFAULT_RETRY = DEFAULT_TIMEOUT + 60


def q_cluster_settings(env: environ.Env, *, redis_url: str) -> dict[str, Any]:
    timeout = env.int("Q_TIMEOUT", default=DEFAULT_TIMEOUT)
    settings: dict[str, Any] = {
        "name": env.str("Q_CLUSTER_NAME", default="shopsync"),
        "workers": env.int("Q_WORKERS", default=2),
        "recycle": env.int("Q_RECYCLE", default=DEFAULT_RECYCLE),
        "timeout": timeout,
        "retry": max(env.int("Q_RETRY", default=DEFAULT_RETRY), timeout + 1),
        # One delivery: a failed or lost task is recovered by our sweep from the database,
        # never by q2 replaying it.
        "max_attempts": 1,
        "ack_failures": True,
        # Our SyncRecord/SyncAttempt rows are the history; q2's success rows would only churn.
        "save_limit": env.int("Q_SAVE_LIMIT", default=-1),
        "catch_up": False,
        "queue_limit": env.int("Q_QUEUE_LIMIT", default=50),
        "label": "Task queue",
        # q2 logs a line per task at INFO: useful in the demo, costly at volume.
        "log_level": env.str("Q_LOG_LEVEL", default="INFO"),
    }
    if redis_url:
        settings["redis"] = redis_url
    else:
        settings["orm"] = "default"
        # The ORM broker polls the table; 0.2 s is q2's default and keeps idle load low.
        settings["poll"] = env.float("Q_POLL", default=0.2)
    return settings
