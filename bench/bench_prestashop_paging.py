"""Paging a simulated PrestaShop shop: orders/s and the client's peak RSS (flat memory).

The simulator runs as its own process (`python -m connectors.prestashop.simulator`), and the
client runs in a child process of its own per shop size, so that the RSS reported is the
client's alone. Each child streams every order with `iter_changed` (display=full, JSON,
keyset pages of PAGE_SIZE), reads each order's lines as the order flow would, and reports.

Memory is flat when the peak RSS growth over the child's baseline is about the same for 5,000
and for 50,000 orders: only one page is held at a time.
"""

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (5_000, 50_000)
# Orders per request: the reference advises 10-100 with display=full (§6).
PAGE_SIZE = 100
KEY = "PRESTASHOPSIMULATORWEBSERVICEKEY"


def _start_simulator(orders: int) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connectors.prestashop.simulator",
            "--orders",
            str(orders),
            "--customers",
            "100",
            "--products",
            "60",
            "--seed",
            "1",
            "--key",
            KEY,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return process, line.split("listening on ")[1].split()[0], time.perf_counter() - started


def _status_kb(field: str) -> int:
    # /proc, not ru_maxrss: ru_maxrss survives exec, so a child would report its parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def client_main(url: str, page_size: int) -> None:
    """Runs in the child: page every order, print figures as JSON."""
    from connectors.http import ClientOptions
    from connectors.prestashop.client import PrestaShopClient
    from connectors.prestashop.translate import order_lines_from_wire

    client = PrestaShopClient(url, KEY, options=ClientOptions(page_size=page_size))
    client.list_records("orders", limit=1)  # warm up: imports, connection
    baseline = _status_kb("VmRSS")
    count = lines = 0
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for record in client.iter_changed("orders"):
        count += 1
        lines += len(order_lines_from_wire(record))
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "orders": count,
                "lines": lines,
                "pages": -(-count // page_size) + 1,
                "seconds": round(seconds, 2),
                "orders_per_second": round(count / seconds),
                # The client's own cost (parse, translate), whatever the server's speed.
                "client_cpu_seconds": round(cpu, 2),
                "client_cpu_orders_per_second": round(count / cpu) if cpu else None,
                "ms_per_page": round(1000 * seconds / (-(-count // page_size) + 1), 1),
                "baseline_rss_mb": round(baseline / 1024, 1),
                "peak_rss_mb": round(peak / 1024, 1),
                "peak_growth_mb": round((peak - baseline) / 1024, 1),
            }
        )
    )


def _measure(orders: int) -> dict:
    server, url, seed_seconds = _start_simulator(orders)
    try:
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from bench.bench_prestashop_paging import client_main; "
                "client_main(sys.argv[1], int(sys.argv[2]))",
                url,
                str(PAGE_SIZE),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    finally:
        server.terminate()
        server.wait(10)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["simulator_start_seconds"] = round(seed_seconds, 1)
    return figures


def run() -> dict:
    results = {str(size): _measure(size) for size in SIZES}
    small, large = results[str(SIZES[0])], results[str(SIZES[-1])]
    return {
        "page_size": PAGE_SIZE,
        "by_orders": results,
        # Flat memory: the extra peak for 10x the orders, in MB.
        "peak_growth_difference_mb": round(large["peak_growth_mb"] - small["peak_growth_mb"], 1),
        "note": (
            "client in its own process, simulator in another (no latency knob): ms_per_page is "
            "the simulator's filter+sort+render (it scans every order per page, so it grows "
            "with the shop) plus the client's parse; client_cpu_orders_per_second is the "
            "client's own ceiling. A real shop's page time (100 full orders: PrestaShop builds "
            "each object) is the floor in production"
        ),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
