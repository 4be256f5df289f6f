from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mappings.serialization import ImportProblem, import_data, load


class Command(BaseCommand):
    help = (
        "Import mapping sets and value maps from a YAML or JSON file (as export_mappings "
        "writes it), showing what changes. Re-importing an export changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Show the diff, write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {str(path)!r}: {exc}") from None
        try:
            report = import_data(load(text), dry_run=options["dry_run"])
        except ImportProblem as exc:
            raise CommandError(f"{path}: {exc}") from None
        for line in report.changes:
            self.stdout.write(line)
        prefix = "dry run, nothing written: " if options["dry_run"] else ""
        self.stdout.write(prefix + report.summary())
