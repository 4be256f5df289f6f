from pathlib import Path
from typing import Any

import tablib
from django.core.management.base import BaseCommand, CommandError

from mappings.resources import CurrencyRateResource


class Command(BaseCommand):
    help = (
        "Import currency rates from a CSV file with the columns date, from_currency, "
        "to_currency, rate[, source] (as the admin exports them). Rows are matched on date "
        "and pair, so re-importing updates in place."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            dataset = tablib.Dataset().load(path.read_text(encoding="utf-8"), format="csv")
        except OSError as exc:
            raise CommandError(f"cannot read {str(path)!r}: {exc}") from None
        missing = {"date", "from_currency", "to_currency", "rate"} - set(dataset.headers or ())
        if missing:
            raise CommandError(
                f"{path}: missing column {', '.join(sorted(missing))}; "
                f"the file has: {', '.join(dataset.headers or ()) or 'no header'}"
            )
        result = CurrencyRateResource().import_data(dataset, dry_run=options["dry_run"])
        problems = [
            f"row {row.number}: {'; '.join(f'{k}: {v}' for k, v in row.error_dict.items())}"
            for row in result.invalid_rows
        ] + [
            f"row {number}: {error.error}"
            for number, errors in result.row_errors()
            for error in errors
        ]
        if problems:
            raise CommandError(f"{path}: nothing imported.\n" + "\n".join(problems))
        totals = result.totals
        prefix = "dry run, nothing written: " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}{totals['new']} new, {totals['update']} updated, {totals['skip']} unchanged"
        )
