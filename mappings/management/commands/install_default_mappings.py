from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mappings.serialization import ImportProblem, import_data, load

DEFAULTS_DIR = Path(__file__).resolve().parents[2] / "defaults"


class Command(BaseCommand):
    help = (
        "Install the default mapping sets per ERP (templates, inactive) and their value maps "
        "from mappings/defaults/. Idempotent: what exists is left as it is unless --reset."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "systems", nargs="*", help="Only these files, e.g. infor_m3 tims (default: all)."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Overwrite installed defaults with the files."
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        files = sorted(DEFAULTS_DIR.glob("*.yaml"))
        wanted = options["systems"]
        if wanted:
            known = {f.stem for f in files}
            unknown = sorted(set(wanted) - known)
            if unknown:
                raise CommandError(
                    f"no defaults for {', '.join(unknown)}; have: {', '.join(sorted(known))}"
                )
            files = [f for f in files if f.stem in wanted]
        for path in files:
            try:
                report = import_data(
                    load(path.read_text(encoding="utf-8")),
                    dry_run=options["dry_run"],
                    only_missing=not options["reset"],
                )
            except ImportProblem as exc:
                raise CommandError(f"{path.name}: {exc}") from None
            for line in report.changes:
                self.stdout.write(f"{path.stem}: {line}")
            self.stdout.write(f"{path.stem}: {report.summary()}")
