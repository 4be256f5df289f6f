from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mappings.serialization import dump, export_data


class Command(BaseCommand):
    help = "Export mapping sets and the value maps they use as YAML (default) or JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")
        parser.add_argument("--format", choices=("yaml", "json"), default=None)
        parser.add_argument("--integration", help="Only this integration's sets (its slug).")
        parser.add_argument("--templates", action="store_true", help="Only template sets.")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"]
        fmt = options["format"] or ("json" if output and output.endswith(".json") else "yaml")
        text = dump(
            export_data(integration=options["integration"], templates_only=options["templates"]),
            fmt,
        )
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {output!r}: {exc}") from None
        self.stderr.write(f"wrote {output}")
