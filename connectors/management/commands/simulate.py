"""`python manage.py simulate prestashop|m3|tims --port … --seed …`: run a simulator.

Each simulator package provides `simulator/cli.py` with `add_arguments(parser)` and
`run(options, stdout)`; this command only dispatches.
"""

import argparse
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _prestashop() -> ModuleType:
    from connectors.prestashop.simulator import cli

    return cli


def _m3() -> ModuleType:
    from connectors.infor.simulator import cli

    return cli


def _tims() -> ModuleType:
    from connectors.tims.simulator import cli

    return cli


SIMULATORS = {"prestashop": _prestashop, "m3": _m3, "tims": _tims}


class Command(BaseCommand):
    help = "Run the simulator of a system (PrestaShop Webservice, Infor M3 via ION, TIMS)."
    # A simulator needs no database and no encryption keys: don't refuse to start without them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(
            dest="system", required=True, parser_class=argparse.ArgumentParser
        )
        for name, load in SIMULATORS.items():
            sub = subparsers.add_parser(name, help=f"the {name} simulator")
            sub.add_argument("--host", default="127.0.0.1")
            sub.add_argument("--port", type=int, required=False, default=0)
            sub.add_argument("--seed", type=int, default=1)
            try:
                load().add_arguments(sub)
            except ImportError as exc:
                sub.set_defaults(_unavailable=str(exc))

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("_unavailable"):
            raise CommandError(
                f"the {options['system']} simulator is not installed: {options['_unavailable']}"
            )
        SIMULATORS[options["system"]]().run(options, self.stdout)
