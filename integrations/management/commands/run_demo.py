"""Run the web server, a q2 cluster and the simulators together; Ctrl-C stops them all."""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.demo import demo_simulator_commands

ROOT = Path(settings.BASE_DIR)
PR_SET_PDEATHSIG = 1  # prctl option: the signal a child gets when its parent dies (Linux)


def _die_with_parent() -> None:
    """In each child: be stopped if run_demo itself dies without cleaning up (kill -9)."""
    with contextlib.suppress(OSError):  # not Linux: the signal handlers still cover a stop
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start web server, q2 cluster and simulators for the demo; Ctrl-C stops everything."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", 8000)))
        parser.add_argument("--no-simulators", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{options['port']}", "--noreload"],
            "worker": [python, "manage.py", "qcluster"],
        }
        if not options["no_simulators"]:
            for name, argv in demo_simulator_commands().items():
                commands[f"sim-{name}"] = [python, "manage.py", "simulate", *argv]
        # SIGTERM/SIGHUP (a closed terminal, `timeout`, a supervisor) stop the demo as Ctrl-C does.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_interrupt)
        # Each argv is built above from fixed strings, integers and the demo's own keys.
        processes = {
            name: subprocess.Popen(  # noqa: S603
                argv, cwd=ROOT, start_new_session=True, preexec_fn=_die_with_parent
            )
            for name, argv in commands.items()
        }
        url = f"http://127.0.0.1:{options['port']}/{settings.ADMIN_URL}"
        self.stdout.write(self.style.SUCCESS(f"\nShopSync demo: open {url}  (Ctrl-C stops)\n"))
        try:
            while True:
                time.sleep(1)
                for name, process in list(processes.items()):
                    code = process.poll()
                    if code is not None:
                        self.stderr.write(f"{name} stopped (exit {code})")
                        processes.pop(name)
                if "web" not in processes or "worker" not in processes:
                    break
        except KeyboardInterrupt:
            self.stdout.write("\nstopping…")
        finally:
            for process in processes.values():
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
