"""`python manage.py simulate m3 --port 8093 --seed 1 --write-ionapi var/sim.ionapi`.

Runs the ION gateway + M3 REST simulator until interrupted. The .ionapi file written points
at it, so a connection (or any ION client) can use it unchanged.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from connectors.infor.simulator.server import M3Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write-ionapi", metavar="FILE", help="write a matching .ionapi file")
    parser.add_argument("--tenant", default="SIM_TST")
    parser.add_argument("--token-lifetime", type=float, default=7200.0, help="seconds")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--quota", type=int, default=0, help="requests per second before 429")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second for order progress (60 = a minute a second)",
    )
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument(
        "--bod-url", default="", help="POST signed ION-style BODs here on order status changes"
    )
    parser.add_argument("--bod-secret", default="", help="Standard Webhooks secret (whsec_…)")


def run(options: dict[str, Any], stdout: Any) -> None:
    sim = M3Simulator(
        seed=options["seed"],
        host=options["host"],
        port=options["port"],
        tenant=options["tenant"],
        token_lifetime=options["token_lifetime"],
        latency=options["latency"],
        time_scale=options["time_scale"],
        items=options["items"],
        customers=options["customers"],
        bod_url=options.get("bod_url") or "",
        bod_secret=options.get("bod_secret") or "",
    )
    try:
        base_url = sim.start()
    except OSError as exc:
        raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
    if options["quota"]:
        sim.set_quota(options["quota"])
    stdout.write(f"M3 simulator (ION gateway + m3api-rest) on {base_url}\n")
    stdout.write(f"  token: POST {base_url}/{sim.tenant}/as/token.oauth2\n")
    stdout.write(f"  API:   {base_url}/{sim.tenant}/M3/m3api-rest/v2/execute/...\n")
    stdout.write(
        f"  on-premises: {base_url}/m3api-rest/... (basic auth "
        f"{sim.basic_user} / {sim.basic_password})\n"
    )
    if options.get("write_ionapi"):
        path = Path(options["write_ionapi"])
        path.write_text(json.dumps(sim.ionapi(), indent=4) + "\n")
        stdout.write(f"  .ionapi written to {path}\n")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        stdout.write("stopping\n")
    finally:
        sim.stop()
