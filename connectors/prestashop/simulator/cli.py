"""`manage.py simulate prestashop …` (and `python -m connectors.prestashop.simulator …`).

The simulate command adds --host, --port and --seed; the rest is here.
"""

import argparse
import threading
from typing import Any, TextIO

from connectors.prestashop.simulator.faults import Faults
from connectors.prestashop.simulator.render import PROFILES
from connectors.prestashop.simulator.server import DEFAULT_KEY, PrestaShopSimulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", default=DEFAULT_KEY, help="the webservice key (32 characters)")
    parser.add_argument(
        "--version",
        dest="ps_version",
        choices=sorted(PROFILES),
        default="8",
        help="behaviour profile: 1.7 (strings in JSON, no PATCH), 8 or 9 (ints, PATCH)",
    )
    parser.add_argument("--products", type=int, default=12)
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--orders", type=int, default=20, help="past orders to seed")
    parser.add_argument("--orders-per-minute", type=float, default=0.0)
    parser.add_argument("--timezone", default="Europe/Paris", help="the shop's PS_TIMEZONE")
    parser.add_argument("--shops", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="plus up to this many seconds")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests/s, then 429")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 5xx")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share that hang")
    parser.add_argument("--timeout-seconds", type=float, default=30.0)
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share truncated")


def build(options: dict[str, Any]) -> PrestaShopSimulator:
    faults = Faults(
        latency=options["latency"],
        jitter=options["jitter"],
        rate_limit=options["rate_limit"],
        error_rate=options["error_rate"],
        timeout_rate=options["timeout_rate"],
        timeout_seconds=options["timeout_seconds"],
        drop_rate=options["drop_rate"],
        malformed_rate=options["malformed_rate"],
        seed=options["seed"],
    )
    return PrestaShopSimulator(
        seed=options["seed"],
        key=options["key"],
        version=options["ps_version"],
        host=options["host"],
        port=options["port"],
        products=options["products"],
        customers=options["customers"],
        orders=options["orders"],
        timezone=options["timezone"],
        shops=options["shops"],
        faults=faults,
        orders_per_minute=options["orders_per_minute"],
    )


def run(options: dict[str, Any], stdout: TextIO, *, stop: threading.Event | None = None) -> None:
    """Serve until interrupted. The first line names the URL (scripts read it)."""
    sim = build(options)
    base_url = sim.start()
    stdout.write(f"PrestaShop simulator (profile {sim.profile.name}) listening on {base_url}\n")
    stdout.write(f"key: {options['key']}\n")
    stdout.flush()
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
