"""Chaos, crash and scale-out runs on PostgreSQL + Redis (see README.md).

    python -m bench.chaos --orders 300 --seconds 120            # short run (CI)
    python -m bench.chaos --orders 1000 --seconds 300 --restart-services
    python -m bench.chaos --scale-out --orders 600

The harness process holds the simulators (threads) and the load; gunicorn and two q2 clusters
are subprocesses on a database of their own (shopsync_chaos, dropped and created per run) and
a Redis queue of their own (a fresh Q_CLUSTER_NAME per run).
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DB_NAME = "shopsync_chaos"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:6379/0")
SLUG = "chaos"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def log(message: str) -> None:
    print(f"[chaos {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------- the environment


def run_env(*, cluster_name: str, lease: int, batch: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "Q_CLUSTER_NAME": cluster_name,
        "Q_WORKERS": "2",
        "Q_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        # A killed worker's claim comes back after the lease; a lost task after the staleness.
        "SYNC_CLAIM_LEASE_SECONDS": str(lease),
        "SYNC_ENQUEUE_STALE_SECONDS": "8",
        "SYNC_BATCH_SIZE": str(batch),
        "SYNC_IO_CONCURRENCY": "8",
        "WEBHOOK_ENQUEUE_INTERVAL_SECONDS": "0.2",
        "FIELD_ENCRYPTION_KEYS": os.environ.get("FIELD_ENCRYPTION_KEYS") or _fernet_key(),
    }


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def database_recreate() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=os.environ.copy(),
        check=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


STARTED: list["Process"] = []  # stopped at exit, whatever ends the harness


class Process:
    """A subprocess in its own session (kill -9 reaches its children), logging to a file."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name, self.argv = name, argv
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=f"chaos-{name}-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if self not in STARTED:
            STARTED.append(self)

    def kill9(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        with open(self.log.name, errors="replace") as f:
            return f.read()[-2000:]


def cluster(n: int) -> Process:
    return Process(f"qcluster{n}", [PYTHON, "manage.py", "qcluster"])


def gunicorn(port: int) -> Process:
    return Process(
        "gunicorn",
        [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
    )


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


# ---------------------------------------------------------------------------- service restarts


def postgres_restart() -> float:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )
    _wait_postgres(timeout=60)
    return time.monotonic() - started


def _wait_postgres(*, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(f"{PG}/postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def redis_restart() -> float:
    """SHUTDOWN NOSAVE (the queue is lost: the sweep must recover it), then start it again
    with the same address, daemonized."""
    started = time.monotonic()
    info = subprocess.run(
        ["redis-cli", "info", "server"], capture_output=True, text=True, check=True
    ).stdout
    config_file = ""
    for line in info.splitlines():
        if line.startswith("config_file:"):
            config_file = line.split(":", 1)[1].strip()
    subprocess.run(["redis-cli", "shutdown", "nosave"], check=False, capture_output=True)
    argv = ["redis-server", config_file] if config_file else ["redis-server"]
    argv += ["--bind", "127.0.0.1", "--port", "6379", "--daemonize", "yes", "--save", ""]
    deadline = time.monotonic() + 30
    while True:
        up = subprocess.run(["redis-cli", "ping"], capture_output=True, text=True)
        if up.stdout.strip() == "PONG":
            break
        subprocess.run(argv, check=False, capture_output=True)
        if time.monotonic() > deadline:
            raise RuntimeError("redis did not come back")
        time.sleep(0.5)
    return time.monotonic() - started


# ------------------------------------------------------------------------------- the load


class WebhookSender:
    """Signs and POSTs order.created events to gunicorn, retrying (as a real sender would)
    until a 2xx; counts what it sent."""

    def __init__(self, url: str, secret: str) -> None:
        from standardwebhooks.webhooks import Webhook

        self.url, self.signer = url, Webhook(secret)
        self.sent = 0
        self.duplicates = 0
        self.refused: Counter = Counter()
        self.lock = threading.Lock()

    def send(self, order: dict[str, Any], msg_id: str) -> None:
        import requests

        body = json.dumps(
            {
                "type": "order.created",
                "timestamp": datetime.now(UTC).isoformat(),
                "data": {
                    "resource": "orders",
                    "id": order["id"],
                    "reference": order["reference"],
                    "date_upd": str(order.get("date_upd") or ""),
                },
            }
        )
        for attempt in range(60):
            now = datetime.now(UTC)
            headers = {
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self.signer.sign(msg_id, now, body),
            }
            try:
                answer = requests.post(self.url, data=body, headers=headers, timeout=10)
                if 200 <= answer.status_code < 300:
                    with self.lock:
                        self.sent += 1
                    return
                with self.lock:
                    self.refused[answer.status_code] += 1
            except requests.RequestException as error:
                with self.lock:
                    self.refused[type(error).__name__] += 1
            time.sleep(min(2.0, 0.1 * 2**attempt))
        raise RuntimeError(f"webhook {msg_id} never accepted")


class Chaos:
    """Faults on the simulators: shop 5xx/timeouts/drops at rates, 429 bursts; M3 gets the same
    shares injected per request seen (fail_next), incl. 'created, then the answer was lost'."""

    def __init__(self, shop: Any, m3: Any, rng: random.Random) -> None:
        self.shop, self.m3, self.rng = shop, m3, rng
        self.stop = threading.Event()
        self.injected: Counter = Counter()
        self.thread = threading.Thread(target=self._run, daemon=True, name="chaos-faults")

    def faults_on(self) -> None:
        f = self.shop.faults
        f.error_rate, f.timeout_rate, f.drop_rate, f.timeout_seconds = 0.05, 0.03, 0.01, 3.0
        self.thread.start()

    def faults_off(self) -> None:
        self.stop.set()
        self.thread.join()
        f = self.shop.faults
        f.error_rate = f.timeout_rate = f.drop_rate = 0.0
        f.rate_limit = 0.0
        with self.m3._lock:
            self.m3.faults.clear()
        self.m3.set_quota(None)

    def _run(self) -> None:
        seen = len(self.m3.requests)
        tick = 0
        while not self.stop.wait(0.25):
            tick += 1
            now = len(self.m3.requests)
            new, seen = now - seen, now
            for _ in range(new):
                roll = self.rng.random()
                if roll < 0.05:
                    self.m3.fail_next(503, count=1)
                    self.injected["m3 503"] += 1
                elif roll < 0.08:
                    self.m3.fail_next(kind="timeout", delay=3.0)
                    self.injected["m3 timeout"] += 1
                elif roll < 0.09:
                    self.m3.fail_next(kind="drop")
                    self.injected["m3 drop"] += 1
                elif roll < 0.10:
                    # M3 did the work, the answer is lost: the lookup by CUOR must find it.
                    self.m3.fail_next(kind="drop", after_processing=True)
                    self.injected["m3 drop after processing"] += 1
            # A 429 burst every ~10 s for ~2 s on each side.
            phase = tick % 40
            if phase == 0:
                self.shop.faults.rate_limit = 5.0
                self.m3.set_quota(5, per_seconds=1.0)
                self.injected["429 bursts"] += 1
            elif phase == 8:
                self.shop.faults.rate_limit = 0.0
                self.m3.set_quota(None)


def poll_loop(integration_id: int, stop: threading.Event, counts: Counter) -> None:
    """The shop poller racing the webhooks (what the minute schedule does, every second)."""
    from django.db import close_old_connections

    from integrations.pollers.service import poll_integration_stream

    while not stop.wait(1.0):
        try:
            result = poll_integration_stream(
                integration_id=integration_id, stream="prestashop.orders"
            )
            counts["polls"] += 1
            if getattr(result, "error", ""):
                counts["poll errors"] += 1
        except Exception:  # noqa: BLE001  (a poll failing under fire is expected; count it)
            counts["poll exceptions"] += 1
        finally:
            close_old_connections()


def sweep_loop(stop: threading.Event, counts: Counter, every: float = 2.0) -> None:
    """The sweep and the webhook sweep (scheduled every minute) at a run's pace."""
    from django.db import close_old_connections

    from integrations.sweep import sweep
    from integrations.webhooks.processing import webhook_events_sweep

    while not stop.wait(every):
        try:
            result = sweep()
            counts["sweep reclaimed"] += result.reclaimed
            counts["sweep enqueued"] += result.enqueued_records
            webhook_events_sweep()
        except Exception:  # noqa: BLE001  (PostgreSQL or Redis down for a moment)
            counts["sweep exceptions"] += 1
            _reset_broker()
        finally:
            close_old_connections()


def _reset_broker() -> None:
    import integrations.queue as queue

    with queue._broker_lock:
        queue._broker = None


# ------------------------------------------------------------------------------ the chaos run


def chaos_run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    os.environ.update(
        run_env(cluster_name=f"chaos-{uuid.uuid4().hex[:8]}", lease=args.lease, batch=10)
    )
    database_recreate()
    import django

    django.setup()
    from connectors.infor.simulator import M3Simulator
    from connectors.prestashop.simulator import PrestaShopSimulator
    from connectors.prestashop.simulator.faults import Faults
    from integrations.management.commands.demo import simulated_integration
    from integrations.subscriptions.signing import secret_generate

    shop = PrestaShopSimulator(seed=args.seed, orders=0, faults=Faults(seed=args.seed))
    m3 = M3Simulator(seed=args.seed, customers=0)
    chaos_seconds = args.seconds * 0.4
    drain_limit = args.seconds - chaos_seconds
    counts: Counter = Counter()
    figures: dict[str, Any] = {"mode": "chaos", "orders": args.orders, "seed": args.seed}
    port = free_port()
    web = gunicorn(port)
    clusters = [cluster(1), cluster(2)]
    stop = threading.Event()
    threads: list[threading.Thread] = []
    started = time.monotonic()
    with shop, m3:
        _quiet(shop, m3)
        secret = secret_generate()
        integration = simulated_integration(
            shop=shop,
            erp=m3,
            slug=SLUG,
            client_options={"connect_timeout": 1.0, "read_timeout": 2.0},
            retry_limit=40,
            webhook_secrets={"prestashop": [secret]},
        )
        web.start()
        for c in clusters:
            c.start()
        wait_port(port)
        sender = WebhookSender(f"http://127.0.0.1:{port}/webhooks/{SLUG}/prestashop/", secret)
        chaos = Chaos(shop, m3, rng)
        chaos.faults_on()
        threads = [
            threading.Thread(target=poll_loop, args=(integration.pk, stop, counts), daemon=True),
            threading.Thread(target=sweep_loop, args=(stop, counts), daemon=True),
        ]
        for t in threads:
            t.start()
        placed: list[dict[str, Any]] = []
        load = threading.Thread(
            target=_place_and_notify,
            args=(shop, sender, placed, args.orders, chaos_seconds * 0.7, rng, counts),
            daemon=True,
        )
        load.start()
        # Kills (and the service restarts) while the load runs and a while after.
        chaos_started = time.monotonic()
        next_kill = chaos_started + args.kill_every
        restarts: list[tuple[float, str]] = []
        if args.restart_services:
            restarts = [
                (chaos_started + chaos_seconds * 0.35, "postgres"),
                (chaos_started + chaos_seconds * 0.65, "redis"),
            ]
        while time.monotonic() - chaos_started < chaos_seconds or load.is_alive():
            now = time.monotonic()
            if now >= next_kill:
                victim = rng.choice(clusters)
                victim.kill9()
                time.sleep(rng.uniform(0.2, 1.5))
                victim.start()
                next_kill = now + args.kill_every * rng.uniform(0.6, 1.4)
            if restarts and now >= restarts[0][0]:
                _, service = restarts.pop(0)
                log(f"restarting {service}")
                took = postgres_restart() if service == "postgres" else redis_restart()
                figures[f"{service}_restart_seconds"] = round(took, 1)
                log(f"{service} back after {took:.1f} s")
            for c in clusters:  # a cluster that died on its own (e.g. Redis gone) comes back
                if not c.alive():
                    counts["cluster exits"] += 1
                    c.start()
            time.sleep(0.2)
        load.join()
        chaos.faults_off()
        faults_stopped = time.monotonic()
        log(f"faults stopped after {faults_stopped - started:.0f} s; draining")
        drained = _wait_drained(integration.pk, placed, limit=drain_limit, clusters=clusters)
        drain_seconds = time.monotonic() - faults_stopped
        stop.set()
        for t in threads:
            t.join(timeout=30)
        stop_all([*clusters, web])
        outcome = _outcome(integration.pk, placed, m3)
    figures.update(outcome)
    figures.update(
        {
            "webhooks_sent": sender.sent,
            "webhook_duplicates_sent": counts["duplicate webhooks"],
            "webhook_refusals_retried": dict(sender.refused),
            "drained": drained,
            "drain_seconds_after_faults_stopped": round(drain_seconds, 1),
            "chaos_seconds": round(faults_stopped - started, 1),
            "kills": sum(c.kills for c in clusters),
            "faults_injected": dict(chaos.injected),
            "shop_fault_rates": {"5xx": 0.05, "timeout": 0.03, "drop": 0.01},
            "loops": {k: v for k, v in counts.items() if k != "duplicate webhooks"},
            "restart_services": args.restart_services,
            "cluster_name": os.environ["Q_CLUSTER_NAME"],
        }
    )
    misses = _misses(figures)
    figures["misses"] = misses
    figures["ok"] = not misses
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    log(
        f"orders {figures['orders']}, duplicates sent {figures['webhook_duplicates_sent']}, "
        f"ERP orders {figures['erp_orders']}, duplicated in ERP {figures['erp_duplicates']}, "
        f"lost {figures['lost']}, kills {figures['kills']}, "
        f"drain {figures['drain_seconds_after_faults_stopped']} s"
    )
    if misses:
        for c in clusters:
            log(f"{c.name} log tail:\n{c.tail()}")
        log("MISS: " + "; ".join(misses))
        return 1
    log("OK: every shop order has exactly one ERP order; nothing stuck, lost or left")
    return 0


def _quiet(*simulators: Any) -> None:
    """A client that gave up (timeout) leaves the simulator a broken pipe: expected here."""
    for simulator in simulators:
        server = getattr(simulator, "_server", None)
        if server is not None:
            server.handle_error = lambda request, address: None


def stop_all(processes: list[Process]) -> None:
    threads = [threading.Thread(target=p.stop) for p in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _place_and_notify(
    shop: Any,
    sender: WebhookSender,
    placed: list[dict[str, Any]],
    orders: int,
    seconds: float,
    rng: random.Random,
    counts: Counter,
) -> None:
    interval = seconds / max(1, orders)
    duplicates: list[tuple[dict[str, Any], str]] = []
    for _ in range(orders):
        order = shop.place_order(state_id=2, stock=False)
        placed.append(order)
        msg_id = f"msg_{uuid.uuid4().hex}"
        sender.send(order, msg_id)
        if rng.random() < 0.2:
            # Half are redeliveries (same webhook-id), half a second event for the order.
            same = rng.random() < 0.5
            duplicates.append((order, msg_id if same else f"msg_{uuid.uuid4().hex}"))
        if duplicates and rng.random() < 0.3:
            order_, id_ = duplicates.pop(0)
            sender.send(order_, id_)
            counts["duplicate webhooks"] += 1
        time.sleep(interval)
    for order_, id_ in duplicates:
        sender.send(order_, id_)
        counts["duplicate webhooks"] += 1


def _wait_drained(
    integration_id: int, placed: list[dict[str, Any]], *, limit: float, clusters: list[Process]
) -> bool:
    from django.db import close_old_connections

    from integrations.models import Status, SyncRecord, WebhookEvent

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            records = SyncRecord.objects.filter(integration_id=integration_id, flow="order_to_cash")
            done = records.filter(status=Status.SUCCEEDED).count()
            open_ = records.exclude(
                status__in=(Status.SUCCEEDED, Status.DEAD, Status.NEEDS_ATTENTION, Status.SKIPPED)
            ).count()
            received = WebhookEvent.objects.filter(state="received").count()
            if open_ == 0 and received == 0 and records.count() >= len(placed):
                return True
            if int(time.monotonic()) % 5 == 0:
                log(f"draining: {done}/{len(placed)} succeeded, {open_} open, {received} events")
        except Exception:  # noqa: BLE001
            close_old_connections()
        for c in clusters:
            if not c.alive():
                c.start()
        time.sleep(1.0)
    return False


def _outcome(integration_id: int, placed: list[dict[str, Any]], m3: Any) -> dict[str, Any]:
    from integrations.models import Link, Status, SyncRecord, WebhookEvent

    by_key = Counter(o.head.get("CUOR", "") for o in m3.state.orders.values())
    references = [o["reference"] for o in placed]
    records = SyncRecord.objects.filter(integration_id=integration_id, flow="order_to_cash")
    statuses = Counter(records.values_list("status", flat=True))
    return {
        "orders": len(placed),
        "erp_orders": sum(by_key.values()),
        "erp_duplicates": sum(by_key[r] - 1 for r in references if by_key[r] > 1),
        "lost": sum(1 for r in references if by_key[r] == 0),
        "erp_orders_unknown": sum(n for k, n in by_key.items() if k not in set(references)),
        "records": records.count(),
        "record_statuses": dict(statuses),
        "running_after_recovery": statuses.get(Status.RUNNING, 0),
        "dead_or_needs_attention": statuses.get(Status.DEAD, 0)
        + statuses.get(Status.NEEDS_ATTENTION, 0),
        "permanent_faults_injected": 0,
        "links": Link.objects.filter(integration_id=integration_id, entity="order").count(),
        "webhooks_unprocessed": WebhookEvent.objects.filter(state="received").count(),
        "webhook_events": dict(Counter(WebhookEvent.objects.values_list("state", flat=True))),
    }


def _misses(f: dict[str, Any]) -> list[str]:
    checks = [
        (f["drained"], "not drained within the time limit"),
        (f["erp_duplicates"] == 0, f"{f['erp_duplicates']} shop orders have several ERP orders"),
        (f["lost"] == 0, f"{f['lost']} shop orders have no ERP order"),
        (f["erp_orders_unknown"] == 0, f"{f['erp_orders_unknown']} ERP orders match no order"),
        (f["erp_orders"] == f["orders"], f"{f['erp_orders']} ERP orders for {f['orders']}"),
        (f["records"] == f["orders"], f"{f['records']} records for {f['orders']} orders"),
        (f["links"] == f["orders"], f"{f['links']} links for {f['orders']} orders"),
        (f["running_after_recovery"] == 0, f"{f['running_after_recovery']} records running"),
        (
            f["dead_or_needs_attention"] == f["permanent_faults_injected"],
            f"{f['dead_or_needs_attention']} dead/needs attention, "
            f"{f['permanent_faults_injected']} permanent faults injected",
        ),
        (f["webhooks_unprocessed"] == 0, f"{f['webhooks_unprocessed']} webhooks unprocessed"),
        (f["kills"] > 0, "no cluster was killed"),
    ]
    return [message for ok, message in checks if not ok]


# ------------------------------------------------------------------------------- scale-out


def scale_out(args: argparse.Namespace) -> int:
    """Throughput of 1, 2 and 4 clusters (2 workers each) on 20 ms simulator latency, no
    faults; each count gets a fresh database and Redis queue."""
    from connectors.infor.simulator import M3Simulator
    from connectors.prestashop.simulator import PrestaShopSimulator
    from connectors.prestashop.simulator.faults import Faults

    figures: dict[str, Any] = {
        "mode": "scale-out",
        "orders": args.orders,
        "latency_ms": 20,
        "workers_per_cluster": 2,
        "cpus": os.cpu_count(),
        "runs": {},
    }
    import django

    # One queue name for the run (django_q reads it once, at import); a fresh database per count.
    os.environ.update(
        run_env(cluster_name=f"chaos-scale-{uuid.uuid4().hex[:8]}", lease=60, batch=5)
    )
    django.setup()
    from django.db import connections

    from integrations.management.commands.demo import simulated_integration
    from integrations.models import Status, SyncRecord
    from integrations.services.orders import order_sync_enqueue
    from integrations.sweep import sweep

    for n in (1, 2, 4):
        connections.close_all()
        database_recreate()
        shop = PrestaShopSimulator(seed=args.seed, orders=0, faults=Faults(latency=0.02))
        m3 = M3Simulator(seed=args.seed, customers=0, latency=0.02)
        with shop, m3:
            integration = simulated_integration(shop=shop, erp=m3, slug=f"scale{n}")
            placed = [shop.place_order(state_id=2, stock=False) for _ in range(args.orders)]
            procs = [cluster(i) for i in range(n)]
            for p in procs:
                p.start()
            time.sleep(6)  # the clusters are up and waiting on the queue
            started = time.monotonic()
            for order in placed:
                order_sync_enqueue(
                    integration=integration, order_id=str(order["id"]), reference=order["reference"]
                )
            records = SyncRecord.objects.filter(integration=integration)
            deadline = started + 120
            while time.monotonic() < deadline:
                records.filter(status=Status.RETRYING).update(next_attempt_at=None)
                sweep()  # retries (an order waiting for its customer) go back to the queue
                if records.filter(status=Status.SUCCEEDED).count() == len(placed):
                    break
                time.sleep(0.5)
            seconds = time.monotonic() - started
            stop_all(procs)
            ok = records.filter(status=Status.SUCCEEDED).count() == len(placed)
            erp = len(m3.state.orders)
        rate = len(placed) / seconds
        figures["runs"][str(n)] = {
            "clusters": n,
            "seconds": round(seconds, 2),
            "orders_per_s": round(rate, 1),
            "all_succeeded": ok,
            "erp_orders": erp,
        }
        log(f"{n} cluster(s): {len(placed)} orders in {seconds:.1f} s = {rate:.1f}/s, ok={ok}")
    base = figures["runs"]["1"]["orders_per_s"]
    for n, run in figures["runs"].items():
        run["speedup"] = round(run["orders_per_s"] / base, 2)
        run["ratio_to_linear"] = round(run["orders_per_s"] / (base * int(n)), 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "chaos-scale-out.json").write_text(json.dumps(figures, indent=2) + "\n")
    for n, run in figures["runs"].items():
        log(f"{n} cluster(s): speedup {run['speedup']}, ratio to linear {run['ratio_to_linear']}")
    good = all(
        r["all_succeeded"] and r["erp_orders"] == args.orders for r in figures["runs"].values()
    )
    return 0 if good else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument(
        "--seconds",
        type=float,
        default=120,
        help="budget: 40%% under fire, the rest the limit for draining after the faults stop",
    )
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between kill -9")
    parser.add_argument("--lease", type=int, default=10, help="SYNC_CLAIM_LEASE_SECONDS")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument(
        "--restart-services",
        action="store_true",
        help="also restart PostgreSQL and Redis once (shared servers: never in CI)",
    )
    parser.add_argument("--scale-out", action="store_true", help="1, 2, 4 clusters throughput")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    # Never leave a cluster or gunicorn behind (timeout, Ctrl-C, an exception).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.scale_out:
            return scale_out(args)
        return chaos_run(args)
    finally:
        stop_all(STARTED)


if __name__ == "__main__":
    sys.exit(main())
