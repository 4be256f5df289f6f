"""Chaos, crash and scale-out runs on PostgreSQL + Redis (see README.md).

    python -m bench.chaos --orders 300 --seconds 120            # short run (CI)
    python -m bench.chaos --orders 10000 --seconds 9000 --poll-every 30 --stale 60 \
        --output bench/results/chaos-full.json                  # full run
    python -m bench.chaos --scale-out --orders 200

The harness starts its own PostgreSQL (initdb in a temporary directory, a free port) and its
own redis-server, so it can restart both during the run without touching the machine's shared
servers, and removes them at the end. It holds the simulators (threads) and the load; gunicorn
and two q2 clusters are subprocesses pointed at those servers.
"""

import argparse
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
DB_NAME = "shopsync_chaos"
SLUG = "chaos"  # the shop -> M3 integration
TIMS_SLUG = "chaos-tims"  # the second shop -> TIMS integration
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def log(message: str) -> None:
    print(f"[chaos {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------- the environment


def run_env(
    *, services: "Services", cluster_name: str, lease: int, batch: int, stale: int = 8
) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": services.database_url(DB_NAME),
        "REDIS_URL": services.redis_url,
        "Q_CLUSTER_NAME": cluster_name,
        "Q_WORKERS": "2",
        "Q_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
        # A killed worker's claim comes back after the lease; a lost task after the staleness.
        "SYNC_CLAIM_LEASE_SECONDS": str(lease),
        "SYNC_ENQUEUE_STALE_SECONDS": str(stale),
        "SYNC_BATCH_SIZE": str(batch),
        "SYNC_IO_CONCURRENCY": "8",
        "WEBHOOK_ENQUEUE_INTERVAL_SECONDS": "0.2",
        "FIELD_ENCRYPTION_KEYS": os.environ.get("FIELD_ENCRYPTION_KEYS") or _fernet_key(),
    }


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def database_recreate(services: "Services") -> None:
    import psycopg

    with psycopg.connect(services.database_url("postgres"), autocommit=True) as conn:
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


# ------------------------------------------------------------- private PostgreSQL and Redis


def _pg_bindir() -> Path:
    """The newest installed PostgreSQL's binaries (CHAOS_PG_BIN to choose)."""
    if os.environ.get("CHAOS_PG_BIN"):
        return Path(os.environ["CHAOS_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("no PostgreSQL binaries found: set CHAOS_PG_BIN")
    return Path(initdb).resolve().parent


class Services:
    """A PostgreSQL cluster (initdb in a temporary directory) and a redis-server of the run's
    own, on free ports: restarting them disturbs nobody else. PostgreSQL refuses to run as
    root, so as root its commands run as the `postgres` user (runuser) in a directory that
    user owns. `teardown` stops both and removes the directory (also on failure, Ctrl-C)."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-services-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = os.environ.get("CHAOS_PG_USER", "postgres")
            entry = pwd.getpwnam(user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.as_user = ["runuser", "-u", user, "--"]
        self.data = self.dir / "data"
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.redis = Process(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
        )
        self.pg_started = False

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def database_url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.pg_port}/{name}"

    # -- PostgreSQL ----------------------------------------------------------------------

    def _pg(self, *argv: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / argv[0]), *argv[1:]],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        # Trust on 127.0.0.1 only, as the shared server is set up; fsync stays on.
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.pg_start()
        self.redis.start()
        self._wait_redis(timeout=30)

    def pg_start(self) -> None:
        options = (
            f"-p {self.pg_port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.dir} -c max_connections=300"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "pg.log"),
            "-w",
            "start",
        )
        self.pg_started = True
        self._wait_postgres(timeout=60)

    def pg_stop(self, mode: str = "immediate") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def pg_restart(self, *, outage: float, mode: str = "immediate") -> float:
        """Stop (immediate: every connection dropped, crash recovery on start), stay down
        `outage` seconds, start; returns the seconds until it answered again."""
        started = time.monotonic()
        self.pg_stop(mode)
        time.sleep(outage)
        self.pg_start()
        return time.monotonic() - started

    def _wait_postgres(self, *, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.database_url("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    # -- Redis ---------------------------------------------------------------------------

    def redis_restart(self, *, outage: float) -> float:
        """kill -9 (nothing saved: the queue is lost, the sweep must recover it), stay down
        `outage` seconds, start on the same port; returns the seconds until it answered."""
        started = time.monotonic()
        self.redis.kill9()
        time.sleep(outage)
        self.redis.start()
        self._wait_redis(timeout=30)
        return time.monotonic() - started

    def _wait_redis(self, *, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while True:
            try:
                redis.Redis(port=self.redis_port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def teardown(self) -> None:
        self.redis.stop()
        if self.pg_started:
            try:
                self.pg_stop("immediate")
            except (subprocess.SubprocessError, OSError) as error:
                log(f"stopping the run's PostgreSQL: {error}")
            self.pg_started = False
        shutil.rmtree(self.dir, ignore_errors=True)


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
    """Faults on the three simulators while on: both shops 5xx/timeouts/drops at rates; M3 and
    TIMS get the same shares injected per request seen, incl. 'created, then the answer was
    lost' (M3: dropped after processing; TIMS: answered after the client's read timeout);
    429 bursts on all of them every ~10 s for ~2 s."""

    def __init__(self, shops: list[Any], m3: Any, tims: Any, rng: random.Random) -> None:
        self.shops, self.m3, self.tims, self.rng = shops, m3, tims, rng
        self.stop = threading.Event()
        self.on = False
        self.injected: Counter = Counter()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True, name="chaos-faults")
        self._wrap_tims()

    def faults_on(self) -> None:
        for shop in self.shops:
            f = shop.faults
            f.error_rate, f.timeout_rate, f.drop_rate, f.timeout_seconds = 0.05, 0.03, 0.01, 3.0
        self.on = True
        self.thread.start()

    def faults_off(self) -> None:
        self.on = False
        self.stop.set()
        self.thread.join()
        for shop in self.shops:
            f = shop.faults
            f.error_rate = f.timeout_rate = f.drop_rate = 0.0
            f.rate_limit = 0.0
        with self.m3._lock:
            self.m3.faults.clear()
        self.m3.set_quota(None)
        with self.tims.app._lock:
            self.tims.app.faults.clear()
        self.tims.app.max_requests_per_second = 0.0

    def _wrap_tims(self) -> None:
        """TIMS faults are decided per request as it arrives (its request log is capped)."""
        app = self.tims.app
        handle = app.handle

        def handle_with_faults(request: Any) -> Any:
            if self.on:
                roll = self.rng.random()
                kind = ""
                if roll < 0.05:
                    app.inject("status", status=503)
                    kind = "tims 503"
                elif roll < 0.08:
                    # The work is done, the answer comes after the client's 2 s read timeout:
                    # only the look-up by customer_po prevents a second order.
                    app.inject("delay", delay=3.0)
                    kind = "tims timeout after processing"
                elif roll < 0.09:
                    app.inject("drop")
                    kind = "tims drop"
                if kind:
                    with self.lock:
                        self.injected[kind] += 1
            return handle(request)

        app.handle = handle_with_faults

    def _run(self) -> None:
        seen = len(self.m3.requests)
        tick = 0
        while not self.stop.wait(0.25):
            tick += 1
            now = len(self.m3.requests)
            new, seen = now - seen, now
            for _ in range(new):
                roll = self.rng.random()
                kind = ""
                if roll < 0.05:
                    self.m3.fail_next(503, count=1)
                    kind = "m3 503"
                elif roll < 0.08:
                    self.m3.fail_next(kind="timeout", delay=3.0)
                    kind = "m3 timeout"
                elif roll < 0.09:
                    self.m3.fail_next(kind="drop")
                    kind = "m3 drop"
                elif roll < 0.10:
                    # M3 did the work, the answer is lost: the lookup by CUOR must find it.
                    self.m3.fail_next(kind="drop", after_processing=True)
                    kind = "m3 drop after processing"
                if kind:
                    with self.lock:
                        self.injected[kind] += 1
            # A 429 burst every ~10 s for ~2 s on every simulator.
            phase = tick % 40
            if phase == 0:
                for shop in self.shops:
                    shop.faults.rate_limit = 5.0
                self.m3.set_quota(5, per_seconds=1.0)
                self.tims.app.max_requests_per_second = 5.0
                with self.lock:
                    self.injected["429 bursts"] += 1
            elif phase == 8:
                for shop in self.shops:
                    shop.faults.rate_limit = 0.0
                self.m3.set_quota(None)
                self.tims.app.max_requests_per_second = 0.0


def poll_loop(
    integration_ids: list[int], stop: threading.Event, counts: Counter, every: float = 1.0
) -> None:
    """The shop pollers racing the webhooks (what the minute schedule does, every `every` s).
    Each poll re-reads the last 5 minutes of orders (the poller's overlap)."""
    from django.db import close_old_connections

    from integrations.pollers.service import poll_integration_stream

    while not stop.wait(every):
        for integration_id in integration_ids:
            try:
                result = poll_integration_stream(
                    integration_id=integration_id, stream="prestashop.orders"
                )
                counts["polls"] += 1
                # Who won the race: orders the poll found first, and ones a webhook had queued.
                counts["poll records created"] += result.records_created
                counts["poll read, record there already"] += result.duplicates
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


# ------------------------------------------------------------------------------ stock


class ErpStockState:
    """Moves stock in one ERP simulator (under its lock) and reads its availability per shop
    SKU the way the product must end up publishing it: the sum over the published warehouses
    of max(0, available), floored (no buffer, in-flight orders not reserved: see README)."""

    def __init__(self, sim: Any, *, kind: str, items: dict[str, str], warehouses: list[str]):
        self.sim, self.kind, self.items, self.warehouses = sim, kind, items, warehouses
        self.changes = 0

    def change(self, rng: random.Random, count: int) -> None:
        erp_items = sorted(set(self.items.values()))
        with self.sim.state.lock:
            for _ in range(count):
                item, where = rng.choice(erp_items), rng.choice(self.warehouses)
                quantity = rng.choice((0, rng.randint(1, 9), rng.randint(10, 300)))
                if self.kind == "m3":
                    balance = self.sim.state.balances.get((where, item))
                    if balance is None:
                        continue
                    balance["STQT"] = Decimal(quantity) + balance["ALQT"]
                else:
                    row = self.sim.state.stock.get((item, where))
                    if row is None:
                        continue
                    row["on_hand"] = str(Decimal(quantity) + Decimal(row["allocated"]))
                    row["available"] = str(Decimal(quantity))
                    row["as_of"] = self.sim.state.clock.now().astimezone(UTC).isoformat()
                self.changes += 1

    def expected(self) -> dict[str, int]:
        """Shop SKU -> the quantity it must show; SKUs of items the ERP lacks are absent."""
        totals: dict[str, Decimal] = {}
        with self.sim.state.lock:
            for item in set(self.items.values()):
                found = False
                for where in self.warehouses:
                    if self.kind == "m3":
                        balance = self.sim.state.balances.get((where, item))
                        if balance is None:
                            continue
                        available = balance["STQT"] - balance["ALQT"]
                    else:
                        row = self.sim.state.stock.get((item, where))
                        if row is None:
                            continue
                        available = Decimal(row["available"])
                    found = True
                    totals[item] = totals.get(item, Decimal(0)) + max(Decimal(0), available)
                if not found:
                    totals.pop(item, None)
        return {sku: int(totals[item]) for sku, item in self.items.items() if item in totals}


def shop_skus(shop: Any) -> dict[str, tuple[int, int]]:
    """SKU -> (product, combination) of every sellable item of a simulated shop (the
    product-level row of a product with combinations is PrestaShop's sum, never written)."""
    with shop.state.lock:
        tables = shop.state.tables
        with_combos = {c["id_product"] for c in tables["combinations"].values()}
        skus = {c["reference"]: (c["id_product"], c["id"]) for c in tables["combinations"].values()}
        for product in tables["products"].values():
            if product["id"] not in with_combos:
                skus[product["reference"]] = (product["id"], 0)
    return skus


def stock_mismatches(shop: Any, erp: ErpStockState) -> list[tuple[str, int, int]]:
    """(sku, in the shop, expected) for every shop SKU whose figure is not the ERP's."""
    expected = erp.expected()
    misses = []
    with shop.state.lock:
        for sku, (product_id, attribute_id) in sorted(shop_skus(shop).items()):
            if sku not in expected:
                continue
            row = shop.state.stock_row(product_id, attribute_id)
            quantity = int(row["quantity"]) if row else -1
            if quantity != expected[sku]:
                misses.append((sku, quantity, expected[sku]))
    return misses


def stock_loop(
    integration_ids: list[int],
    erps: list[ErpStockState],
    changing: threading.Event,
    stop: threading.Event,
    rng: random.Random,
    counts: Counter,
    errors: dict[str, str],
    every: float = 3.0,
    full_every: float = 20.0,
) -> None:
    """Stock moves in both ERPs while `changing` is set. The stock schedules at a run's pace,
    racing the records they open in the clusters: the incremental scan (every 5 min in
    production) every `every` s, the full reconciliation (daily) every `full_every` s. M3's
    change feed is item changes by day, so stock moved by orders and receipts is published
    by the full reconciliation (integrations/flows/README-stock.md); TIMS has a stock cursor."""
    from django.db import close_old_connections

    from integrations.models import Integration
    from integrations.services.stock import stock_reconcile_full, stock_scan_incremental

    next_full = time.monotonic() + full_every
    while not stop.wait(every):
        if changing.is_set():
            for erp in erps:
                erp.change(rng, count=rng.randint(1, 4))
        full = time.monotonic() >= next_full
        if full:
            next_full = time.monotonic() + full_every
        for integration_id in integration_ids:
            kind = "full" if full else "incremental"
            try:
                integration = Integration.objects.select_related(
                    "shop_connection", "erp_connection"
                ).get(pk=integration_id)
                scan = stock_reconcile_full if full else stock_scan_incremental
                run = scan(integration=integration)
                counts[f"stock {kind} scans" if run else "stock scans busy"] += 1
            except Exception as error:  # noqa: BLE001  (faults, or a server down: next round)
                counts[f"stock {kind} scan exceptions"] += 1
                errors[f"{integration_id} {kind}: {type(error).__name__}"] = str(error)[:300]
                if full:
                    next_full = time.monotonic()  # the daily one failed: again next round
                _reset_broker()
            finally:
                close_old_connections()


def stock_setup(integration: Any, *, warehouses: list[str]) -> None:
    """Publish stock for this integration too: ERP items through the simulators' value map,
    in-flight orders not reserved (the check compares with the ERP's own figure; reserving
    is covered by tests/stock), and the broken-feed guard out of the way (a hold waits for
    a person, which no run has)."""
    from integrations.services.orders import simulator_item_map

    integration.enabled_flows = [*integration.enabled_flows, "inventory"]
    integration.options = {
        **integration.options,
        "inventory": {
            "reserve_recent_orders": False,
            "item_value_map": simulator_item_map(integration.erp_connection.system),
            "warehouses": warehouses,
            "hold_min_items": 1_000_000,
        },
    }
    integration.save(update_fields=["enabled_flows", "options"])


def item_map(system: str) -> dict[str, str]:
    from integrations.services.orders import simulator_item_map
    from mappings.models import ValueMap

    value_map = ValueMap.objects.get(name=simulator_item_map(system))
    return dict(value_map.entries.values_list("source_value", "target_value"))


# ------------------------------------------------------------------------------ the chaos run


class Side:
    """One shop and the ERP its orders go to, with the integration between them, the
    webhook secret, the orders placed and the ERP's stock."""

    def __init__(
        self, name: str, shop: Any, erp: Any, integration: Any, secret: str, stock: ErpStockState
    ) -> None:
        self.name, self.shop, self.erp, self.integration = name, shop, erp, integration
        self.secret, self.stock = secret, stock
        self.sender: WebhookSender | None = None
        self.placed: list[dict[str, Any]] = []


def chaos_run(args: argparse.Namespace, services: "Services") -> int:
    rng = random.Random(args.seed)
    fault_rng = random.Random(args.seed + 1)
    os.environ.update(
        run_env(
            services=services,
            cluster_name=f"chaos-{uuid.uuid4().hex[:8]}",
            lease=args.lease,
            batch=10,
            stale=args.stale,
        )
    )
    database_recreate(services)
    import django

    django.setup()
    from connectors.infor.simulator import M3Simulator
    from connectors.prestashop.simulator import PrestaShopSimulator
    from connectors.prestashop.simulator.faults import Faults
    from connectors.tims.simulator import TimsSimulator
    from connectors.tims.simulator.state import LOCATIONS
    from integrations.management.commands.demo import simulated_integration
    from integrations.services import stock as stock_services
    from integrations.subscriptions.signing import secret_generate

    # The run compresses time as for the claim lease and the sweep: a stock scan cut off by
    # an outage (its StockRun never finished) blocks the next ones for this long, not 30 min.
    stock_services.SCAN_STALE_AFTER = timedelta(seconds=args.lease * 2)

    shop = PrestaShopSimulator(seed=args.seed, orders=0, faults=Faults(seed=args.seed))
    shop2 = PrestaShopSimulator(seed=args.seed + 1, orders=0, faults=Faults(seed=args.seed + 1))
    m3 = M3Simulator(seed=args.seed, customers=0)
    # Orders never move on by themselves during a run (their shipments would move stock).
    tims = TimsSimulator(seed=args.seed, step_seconds=24 * 3600)
    chaos_seconds = args.seconds * 0.4
    # At least 2 minutes to drain: PostgreSQL's crash recovery alone took 10 s on the shared
    # machine, and a run that drains sooner ends sooner.
    drain_limit = max(args.seconds - chaos_seconds, 120.0)
    counts: Counter = Counter()
    figures: dict[str, Any] = {
        "mode": "chaos",
        "orders": args.orders,
        "seed": args.seed,
        "tims_share": args.tims_share,
        "no_restarts": args.no_restarts,
        "outage_seconds": args.outage,
        "lease_seconds": args.lease,
        "enqueue_stale_seconds": args.stale,
        "poll_every_seconds": args.poll_every,
    }
    port = free_port()
    web = gunicorn(port)
    clusters = [cluster(1), cluster(2)]
    stop = threading.Event()
    changing = threading.Event()
    scan_errors: dict[str, str] = {}  # the last stock scan error of each kind, for the figures
    threads: list[threading.Thread] = []
    started = time.monotonic()
    with shop, shop2, m3, tims:
        _quiet(shop, shop2, m3, tims)
        options = {"connect_timeout": 1.0, "read_timeout": 2.0}
        sides: list[Side] = []
        for name, slug, shop_, erp in (("m3", SLUG, shop, m3), ("tims", TIMS_SLUG, shop2, tims)):
            secret = secret_generate()
            integration = simulated_integration(
                shop=shop_,
                erp=erp,
                slug=slug,
                client_options=options,
                retry_limit=40,
                webhook_secrets={"prestashop": [secret]},
            )
            warehouses = ["100", "200"] if name == "m3" else list(LOCATIONS)
            stock_setup(integration, warehouses=warehouses)
            items = item_map(integration.erp_connection.system)
            stock = ErpStockState(erp, kind=name, items=items, warehouses=warehouses)
            sides.append(Side(name, shop_, erp, integration, secret, stock))
        ids = [s.integration.pk for s in sides]
        # Before the faults: publish every item once (records queued for the clusters) and
        # set the stock change cursors; from here on every change must reach the shop.
        for side in sides:
            stock_services.stock_reconcile_full(integration=side.integration)
            stock_services.stock_scan_incremental(integration=side.integration)
        web.start()
        for c in clusters:
            c.start()
        wait_port(port)
        for side in sides:
            side.sender = WebhookSender(
                f"http://127.0.0.1:{port}/webhooks/{side.integration.slug}/prestashop/",
                side.secret,
            )
        chaos = Chaos([shop, shop2], m3, tims, fault_rng)
        chaos.faults_on()
        changing.set()
        stock_erps = [s.stock for s in sides]
        threads = [
            threading.Thread(
                target=poll_loop, args=(ids, stop, counts, args.poll_every), daemon=True
            ),
            threading.Thread(target=sweep_loop, args=(stop, counts), daemon=True),
            threading.Thread(
                target=stock_loop,
                args=(
                    ids,
                    stock_erps,
                    changing,
                    stop,
                    random.Random(args.seed + 2),
                    counts,
                    scan_errors,
                ),
                daemon=True,
            ),
        ]
        for t in threads:
            t.start()
        load = threading.Thread(
            target=_place_and_notify,
            args=(sides, args.orders, args.tims_share, chaos_seconds * 0.7, rng, counts),
            daemon=True,
        )
        load.start()
        # Kills (and the service restarts) while the load runs and a while after.
        chaos_started = time.monotonic()
        next_kill = chaos_started + args.kill_every
        restarts: list[tuple[float, str]] = []
        if not args.no_restarts:
            restarts = [
                (chaos_started + chaos_seconds * 0.35, "postgres"),
                (chaos_started + chaos_seconds * 0.65, "redis"),
            ]
        figures["restarts"] = {}
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
                log(f"restarting {service} (down {args.outage:g} s)")
                if service == "postgres":
                    took = services.pg_restart(outage=args.outage)
                else:
                    took = services.redis_restart(outage=args.outage)
                figures["restarts"][service] = {
                    "at_seconds": round(now - started, 1),
                    "back_after_seconds": round(took, 1),
                }
                log(f"{service} back after {took:.1f} s")
            for c in clusters:  # a cluster that died on its own (e.g. Redis gone) comes back
                if not c.alive():
                    counts["cluster exits"] += 1
                    c.start()
            time.sleep(0.2)
        load.join()
        changing.clear()
        chaos.faults_off()
        faults_stopped = time.monotonic()
        log(f"faults stopped after {faults_stopped - started:.0f} s; draining")
        drained = _wait_drained(sides, limit=drain_limit, clusters=clusters)
        drain_seconds = time.monotonic() - faults_stopped
        stop.set()
        for t in threads:
            t.join(timeout=30)
        stop_all([*clusters, web])
        outcome = {side.name: _outcome(side) for side in sides}
    senders = [s.sender for s in sides]
    refused: Counter = Counter()
    for sender in senders:
        refused.update(sender.refused)
    figures.update(
        {
            "orders": sum(o["orders"] for o in outcome.values()),
            "erp_orders": sum(o["erp_orders"] for o in outcome.values()),
            "erp_duplicates": sum(o["erp_duplicates"] for o in outcome.values()),
            "lost": sum(o["lost"] for o in outcome.values()),
            "by_erp": outcome,
            "stock_changes_made": sum(e.changes for e in stock_erps),
            "stock_skus_checked": sum(o["stock_skus_checked"] for o in outcome.values()),
            "stock_mismatches": sum(len(o["stock_mismatches"]) for o in outcome.values()),
            "webhooks_sent": sum(s.sent for s in senders),
            "webhook_duplicates_sent": counts["duplicate webhooks"],
            "webhook_refusals_retried": dict(refused),
            "drained": drained,
            "drain_seconds_after_faults_stopped": round(drain_seconds, 1),
            "chaos_seconds": round(faults_stopped - started, 1),
            "kills": sum(c.kills for c in clusters),
            "faults_injected": dict(chaos.injected),
            "shop_fault_rates": {"5xx": 0.05, "timeout": 0.03, "drop": 0.01},
            "erp_fault_rates": {"5xx": 0.05, "timeout": 0.03, "drop": 0.01, "lost answer": 0.01},
            "loops": {k: v for k, v in counts.items() if k != "duplicate webhooks"},
            "stock_scan_errors": scan_errors,
            "cluster_name": os.environ["Q_CLUSTER_NAME"],
        }
    )
    misses = _misses(figures)
    figures["misses"] = misses
    figures["ok"] = not misses
    output = Path(args.output) if args.output else RESULTS / "chaos.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    log(
        f"orders {figures['orders']} (M3 {outcome['m3']['orders']}, TIMS "
        f"{outcome['tims']['orders']}), duplicates sent {figures['webhook_duplicates_sent']}, "
        f"ERP orders {figures['erp_orders']}, duplicated in ERP {figures['erp_duplicates']}, "
        f"lost {figures['lost']}, stock changes {figures['stock_changes_made']} "
        f"({figures['stock_mismatches']} SKUs off), kills {figures['kills']}, "
        f"restarts {sorted(figures['restarts'])}, "
        f"drain {figures['drain_seconds_after_faults_stopped']} s -> {output}"
    )
    if misses:
        for c in clusters:
            log(f"{c.name} log tail:\n{c.tail()}")
        log("MISS: " + "; ".join(misses))
        return 1
    log(
        "OK: every shop order has exactly one ERP order; every stock change published; "
        "nothing stuck, lost or left"
    )
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
    sides: list[Side],
    orders: int,
    tims_share: float,
    seconds: float,
    rng: random.Random,
    counts: Counter,
) -> None:
    """Orders in the first shop (to M3) or, for `tims_share` of them, the second (to TIMS),
    each announced by a signed webhook; ~20 % get a duplicate later."""
    interval = seconds / max(1, orders)
    duplicates: list[tuple[Side, dict[str, Any], str]] = []
    m3_side, tims_side = sides
    for _ in range(orders):
        side = tims_side if rng.random() < tims_share else m3_side
        order = side.shop.place_order(state_id=2, stock=False)
        side.placed.append(order)
        msg_id = f"msg_{uuid.uuid4().hex}"
        side.sender.send(order, msg_id)
        if rng.random() < 0.2:
            # Half are redeliveries (same webhook-id), half a second event for the order.
            same = rng.random() < 0.5
            duplicates.append((side, order, msg_id if same else f"msg_{uuid.uuid4().hex}"))
        if duplicates and rng.random() < 0.3:
            side_, order_, id_ = duplicates.pop(0)
            side_.sender.send(order_, id_)
            counts["duplicate webhooks"] += 1
        time.sleep(interval)
    for side_, order_, id_ in duplicates:
        side_.sender.send(order_, id_)
        counts["duplicate webhooks"] += 1


def _wait_drained(sides: list[Side], *, limit: float, clusters: list[Process]) -> bool:
    """Until no record is open, no webhook is left received, every order has its record and
    every shop shows its ERP's stock; False after `limit` seconds."""
    from django.db import close_old_connections

    from integrations.models import Status, SyncRecord, WebhookEvent

    deadline = time.monotonic() + limit
    last_report = 0.0
    while time.monotonic() < deadline:
        try:
            records = SyncRecord.objects.filter(integration__in=[s.integration for s in sides])
            orders = records.filter(flow="order_to_cash")
            done = orders.filter(status=Status.SUCCEEDED).count()
            open_by_flow = Counter(
                records.exclude(
                    status__in=(
                        Status.SUCCEEDED,
                        Status.DEAD,
                        Status.NEEDS_ATTENTION,
                        Status.SKIPPED,
                    )
                ).values_list("flow", flat=True)
            )
            open_ = sum(open_by_flow.values())
            received = WebhookEvent.objects.filter(state="received").count()
            placed = sum(len(s.placed) for s in sides)
            stock_off = sum(len(stock_mismatches(s.shop, s.stock)) for s in sides)
            if open_ == 0 and received == 0 and orders.count() >= placed and stock_off == 0:
                return True
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                log(
                    f"draining: {done}/{placed} orders succeeded, records open "
                    f"{dict(open_by_flow)}, "
                    f"{received} events, {stock_off} SKUs not at the ERP's figure"
                )
        except Exception:  # noqa: BLE001
            close_old_connections()
        for c in clusters:
            if not c.alive():
                c.start()
        time.sleep(1.0)
    return False


def _outcome(side: Side) -> dict[str, Any]:
    from integrations.management.commands.demo import erp_orders_by_key
    from integrations.models import Link, Status, SyncRecord, WebhookEvent

    integration = side.integration
    by_key = erp_orders_by_key(side.erp)
    references = [o["reference"] for o in side.placed]
    known = set(references)
    records = SyncRecord.objects.filter(integration=integration)
    orders = records.filter(flow="order_to_cash")
    statuses = Counter(records.values_list("status", flat=True))
    mismatches = stock_mismatches(side.shop, side.stock)
    return {
        "orders": len(side.placed),
        "erp_orders": sum(by_key.values()),
        "erp_duplicates": sum(by_key[r] - 1 for r in references if by_key[r] > 1),
        "lost": sum(1 for r in references if by_key[r] == 0),
        "erp_orders_unknown": sum(n for k, n in by_key.items() if k not in known),
        "records": orders.count(),
        "record_statuses": dict(statuses),
        "stock_records": dict(
            Counter(records.filter(flow="inventory").values_list("status", flat=True))
        ),
        "running_after_recovery": statuses.get(Status.RUNNING, 0),
        "dead_or_needs_attention": statuses.get(Status.DEAD, 0)
        + statuses.get(Status.NEEDS_ATTENTION, 0),
        "permanent_faults_injected": 0,
        # What put records at dead / needs attention, for the post-mortem of a failed run.
        "attention": list(
            records.filter(status__in=(Status.DEAD, Status.NEEDS_ATTENTION)).values(
                "flow",
                "reference",
                "status",
                "step",
                "error_class",
                "error_field",
                "error_message",
            )[:10]
        ),
        "links": Link.objects.filter(integration=integration, entity="order").count(),
        "webhooks_unprocessed": WebhookEvent.objects.filter(
            integration=integration, state="received"
        ).count(),
        "webhook_events": dict(
            Counter(
                WebhookEvent.objects.filter(integration=integration).values_list("state", flat=True)
            )
        ),
        "webhooks_sent": side.sender.sent,
        "stock_changes_made": side.stock.changes,
        "stock_skus_checked": len(side.stock.expected()),
        "stock_mismatches": mismatches[:20],
    }


def _misses(figures: dict[str, Any]) -> list[str]:
    misses = [] if figures["drained"] else ["not drained within the time limit"]
    if figures["kills"] == 0:
        misses.append("no cluster was killed")
    for service in ("postgres", "redis"):
        if not figures["no_restarts"] and service not in figures["restarts"]:
            misses.append(f"{service} was not restarted")
    for erp, f in figures["by_erp"].items():
        checks = [
            (f["orders"] > 0, "no order was placed"),
            (f["erp_duplicates"] == 0, f"{f['erp_duplicates']} orders have several ERP orders"),
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
            (f["stock_changes_made"] > 0, "no stock change was made"),
            (
                not f["stock_mismatches"],
                f"stock not at the ERP's figure (sku, shop, ERP): {f['stock_mismatches'][:5]}",
            ),
        ]
        misses += [f"{erp}: {message}" for ok, message in checks if not ok]
    return misses


# ------------------------------------------------------------------------------- scale-out


def scale_out(args: argparse.Namespace, services: "Services") -> int:
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
        run_env(
            services=services,
            cluster_name=f"chaos-scale-{uuid.uuid4().hex[:8]}",
            lease=60,
            batch=5,
            # The production staleness: the whole load is queued at once, and re-queueing
            # what merely waits its turn would only add duplicate tasks.
            stale=300,
        )
    )
    django.setup()
    from django.db import connections

    from integrations.management.commands.demo import simulated_integration
    from integrations.models import Status, SyncRecord
    from integrations.services.orders import order_sync_enqueue
    from integrations.sweep import sweep

    for n in (1, 2, 4):
        connections.close_all()
        database_recreate(services)
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
        help="budget: 40%% under fire, the rest (at least 120 s) the limit for draining",
    )
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between kill -9")
    parser.add_argument("--lease", type=int, default=10, help="SYNC_CLAIM_LEASE_SECONDS")
    parser.add_argument(
        "--stale",
        type=int,
        default=8,
        help="SYNC_ENQUEUE_STALE_SECONDS: a queued record not started after this is queued "
        "again by the sweep (raise it when the queue is deep, as in the full run)",
    )
    parser.add_argument(
        "--poll-every",
        type=float,
        default=1.0,
        help="seconds between shop order polls (each re-reads 5 minutes of orders)",
    )
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument(
        "--no-restarts",
        action="store_true",
        help="skip the PostgreSQL and Redis restarts (the run's own servers; on by default)",
    )
    parser.add_argument(
        "--outage", type=float, default=3.0, help="seconds PostgreSQL and Redis stay down"
    )
    parser.add_argument(
        "--tims-share",
        type=float,
        default=0.3,
        help="share of the orders placed in the second shop, whose ERP is TIMS",
    )
    parser.add_argument(
        "--output", default="", help="where the figures go (default bench/results/chaos.json)"
    )
    parser.add_argument("--scale-out", action="store_true", help="1, 2, 4 clusters throughput")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    # Never leave a cluster, gunicorn or the run's servers behind (timeout, Ctrl-C, an
    # exception): SIGTERM and SIGINT unwind through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    services = Services()
    try:
        services.start()
        log(
            f"own PostgreSQL on 127.0.0.1:{services.pg_port} ({services.bindir}), "
            f"own Redis on 127.0.0.1:{services.redis_port}, in {services.dir}"
        )
        if args.scale_out:
            return scale_out(args, services)
        return chaos_run(args, services)
    finally:
        _close_connections()
        stop_all([p for p in STARTED if p is not services.redis])
        services.teardown()


def _close_connections() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception as error:  # noqa: BLE001  (Django not set up, or the server gone)
        log(f"closing connections: {error}")


if __name__ == "__main__":
    sys.exit(main())
