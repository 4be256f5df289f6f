"""`python manage.py simulate tims --port … --seed …`: the TIMS simulator (ASSUMED profile).

The command adds --host, --port and --seed; this module adds the TIMS knobs and runs it.
"""

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage
from django.core.management.base import CommandError

from connectors.tims.files import FileExchangeSettings
from connectors.tims.profile import AuthMode, TimsProfile
from connectors.tims.simulator.app import SimCredentials
from connectors.tims.simulator.files import FileExchangeSimulator
from connectors.tims.simulator.server import TimsSimulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="a JSON file with a TIMS profile (default: our assumed profile)"
    )
    parser.add_argument("--auth-mode", choices=[m.value for m in AuthMode])
    parser.add_argument(
        "--path-prefix", default="/api/v1", help="where the API lives (default /api/v1)"
    )
    parser.add_argument("--client-id", help="OAuth client id the simulator accepts")
    parser.add_argument("--client-secret", help="OAuth client secret the simulator accepts")
    parser.add_argument("--api-key", help="API key the simulator accepts (api_key_header mode)")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=60.0,
        help="seconds between order stages (open, released, shipped, invoiced, paid)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--max-rps", type=float, default=0.0, help="requests per second before 429 (0: no limit)"
    )
    parser.add_argument("--files", help="a folder: also run the file exchange in it")
    parser.add_argument("--files-every", type=float, default=5.0, help="seconds between runs")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(options: dict[str, Any], stdout: Any) -> None:
    profile_data: dict[str, Any] = {}
    if options.get("profile"):
        try:
            profile_data = json.loads(Path(options["profile"]).read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"--profile {options['profile']!r}: {exc}") from None
    if options.get("auth_mode"):
        profile_data["auth_mode"] = options["auth_mode"]
    profile = TimsProfile.from_options({"profile": profile_data})
    defaults = SimCredentials()
    credentials = SimCredentials(
        client_id=options.get("client_id") or defaults.client_id,
        client_secret=options.get("client_secret") or defaults.client_secret,
        api_key=options.get("api_key") or defaults.api_key,
    )
    simulator = TimsSimulator(
        credentials=credentials,
        seed=options.get("seed", 1),
        profile=profile,
        host=options.get("host", "127.0.0.1"),
        port=options.get("port", 0),
        path_prefix=options.get("path_prefix", ""),
        step_seconds=options.get("step_seconds", 60.0),
        latency=options.get("latency", 0.0),
        max_requests_per_second=options.get("max_rps", 0.0),
        verbose=options.get("verbose", False),
    )
    base_url = simulator.start()
    stdout.write(f"TIMS simulator (ASSUMED interface, not TIMS) on {base_url}\n")
    # A test double's own credentials: printing them is what makes the demo usable.
    stdout.write(f"auth: {profile.auth_mode}; credentials: {simulator.credentials.as_dict()}\n")
    stop = threading.Event()
    if options.get("files"):
        storage = FileSystemStorage(location=options["files"])
        exchange = FileExchangeSimulator(simulator.state, storage, FileExchangeSettings())
        stdout.write(f"file exchange in {options['files']} every {options['files_every']} s\n")

        def loop() -> None:
            while not stop.wait(options["files_every"]):
                exchange.run_once()

        threading.Thread(target=loop, name="tims-files", daemon=True).start()
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        simulator.stop()
