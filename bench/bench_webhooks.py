"""Webhook ingest under load, and 10,000 webhooks accepted with the workers stopped.

1. gunicorn serves bench.urls (the real endpoint and a bare view that inserts one row) on
   loopback against the bench database; a second process sends signed webhooks from
   CONCURRENCY keep-alive connections. Requests/s and p50/p99 latency for both, and their
   ratio. Targets: >= 500 req/s, p99 < 50 ms, >= 0.7 of the bare view.
2. The endpoint's run sends N_BACKLOG webhooks while no q2 worker runs; then a real cluster
   starts and the time until every record succeeded is measured, checking none ran twice.

Run with `python -m bench webhooks`; DATABASE_URL (and REDIS_URL) decide the stack. The
database is flushed: give it one of its own. BENCH_WEBHOOKS_N overrides N_BACKLOG for a
quicker run.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Max

from tests.support.cluster import test_database_url

ROOT = Path(__file__).resolve().parents[1]
# Results are written per database/broker pair (bench/__main__.py).
PER_BACKEND = True
CONCURRENCY = 8
GUNICORN_WORKERS = 3
GUNICORN_THREADS = 2
N_WARMUP = 300
N_BARE = 4000
N_BACKLOG = int(os.environ.get("BENCH_WEBHOOKS_N", 10_000))
CLUSTER_WORKERS = 2
SLUG = "bench-webhooks"


def run() -> dict[str, Any]:
    from integrations.models import EventRoute, Status, SyncAttempt, SyncRecord, WebhookEvent
    from integrations.subscriptions.signing import secret_generate
    from tests.factories import IntegrationFactory
    from tests.support.cluster import running_cluster, wait_for

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    secret = secret_generate()
    integration = IntegrationFactory(
        slug=SLUG, enabled_flows=["test_noop"], webhook_secrets={"prestashop": [secret]}
    )
    EventRoute.objects.create(
        integration=integration, source="prestashop", event_type="order.created", flow="test_noop"
    )
    figures: dict[str, Any] = {
        "database": connection.vendor,
        "broker": "redis" if settings.REDIS_URL else "orm",
        "load_connections": CONCURRENCY,
        "gunicorn": f"{GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads (gthread)",
        "cpus": os.cpu_count(),
    }
    with _gunicorn() as base:
        _load(f"{base}/bare/{integration.pk}/", secret, N_WARMUP, signed=False)
        _load(f"{base}/webhooks/{SLUG}/prestashop/", secret, N_WARMUP, prefix="warm")
        WebhookEvent.objects.all().delete()
        _clear_queue()
        bare = _load(f"{base}/bare/{integration.pk}/", secret, N_BARE, signed=False)
        WebhookEvent.objects.filter(source="bare").delete()
        hooks = _load(f"{base}/webhooks/{SLUG}/prestashop/", secret, N_BACKLOG, prefix="m")
    figures["bare_view"] = bare
    figures["webhook_endpoint"] = hooks
    figures["ratio_to_bare"] = round(hooks["requests_per_s"] / bare["requests_per_s"], 2)
    figures["targets_met"] = {
        "requests_per_s>=500": hooks["requests_per_s"] >= 500,
        "p99_ms<50": hooks["p99_ms"] < 50,
        "ratio>=0.7": figures["ratio_to_bare"] >= 0.7,
    }

    stored = WebhookEvent.objects.filter(source="prestashop", state="received").count()
    assert stored == N_BACKLOG, f"{stored} of {N_BACKLOG} webhooks stored"
    started = time.perf_counter()
    with running_cluster(workers=CLUSTER_WORKERS, extra_env={"Q_LOG_LEVEL": "ERROR"}) as q:
        wait_for(
            lambda: SyncRecord.objects.filter(status=Status.SUCCEEDED).count() == N_BACKLOG,
            timeout=1200,
            process=q,
        )
        drained = time.perf_counter() - started
    figures["backlog"] = {
        "webhooks": N_BACKLOG,
        "cluster_workers": CLUSTER_WORKERS,
        "seconds_to_all_records_succeeded": round(drained, 1),
        "records_per_s": round(N_BACKLOG / drained, 1),
        "records": SyncRecord.objects.count(),
        "max_attempts_per_record": SyncRecord.objects.aggregate(m=Max("attempts"))["m"],
        "attempts_total": SyncAttempt.objects.count(),
        "events_left_received": WebhookEvent.objects.filter(state="received").count(),
    }
    assert figures["backlog"]["records"] == N_BACKLOG
    assert figures["backlog"]["max_attempts_per_record"] == 1
    assert figures["backlog"]["attempts_total"] == N_BACKLOG
    call_command("flush", interactive=False, verbosity=0)
    return figures


def _clear_queue() -> None:
    """Warm-up tasks must not count in the backlog."""
    from django_q.models import OrmQ

    from integrations.queue import broker

    if settings.REDIS_URL:
        broker().purge_queue()
    else:
        OrmQ.objects.all().delete()


class _gunicorn:
    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": test_database_url(),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.urls:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--worker-class",
                "gthread",
                "--workers",
                str(GUNICORN_WORKERS),
                "--threads",
                str(GUNICORN_THREADS),
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return base
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _load(url: str, secret: str, n: int, *, signed: bool = True, prefix: str = "b") -> dict:
    """Runs the load generator as its own process and returns its figures."""
    spec = json.dumps(
        {
            "url": url,
            "secret": secret,
            "n": n,
            "signed": signed,
            "prefix": prefix,
            "concurrency": CONCURRENCY,
        }
    )
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_webhooks", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    return json.loads(out.stdout)


# ------------------------------------------------------------- the load generator process


def _generate(spec: dict) -> dict:
    import http.client
    import threading
    from datetime import UTC, datetime
    from urllib.parse import urlsplit

    from standardwebhooks.webhooks import Webhook

    parts = urlsplit(spec["url"])
    signer = Webhook(spec["secret"])
    n, concurrency = spec["n"], spec["concurrency"]
    # Bodies and signatures are made before the clock starts (the sender's cost, not ours).
    now = datetime.now(UTC)
    requests_: list[tuple[bytes, dict[str, str]]] = []
    for i in range(n):
        body = json.dumps(
            {
                "type": "order.created",
                "timestamp": now.isoformat(),
                "data": {"resource": "orders", "id": i, "date_upd": "2026-11-24 10:00:00"},
            }
        )
        headers = {"Content-Type": "application/json"}
        if spec["signed"]:
            msg_id = f"{spec['prefix']}_{i}"
            headers |= {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signer.sign(msg_id, now, body),
            }
        requests_.append((body.encode(), headers))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(n))

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            body, headers = requests_[i]
            started = time.perf_counter()
            try:
                conn.request("POST", parts.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                conn.request("POST", parts.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            mine.append(time.perf_counter() - started)
            codes[response.status] = codes.get(response.status, 0) + 1
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": n,
        "requests_per_s": round(n / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_generate(json.loads(sys.argv[1]))))
