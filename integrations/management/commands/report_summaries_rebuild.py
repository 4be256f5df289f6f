"""Recompute the PostgreSQL report summaries from the records and links.

Triggers keep them current (integrations/migrations/0007_report_summaries.py); run this after
a bulk load that bypassed them (triggers disabled, COPY into the tables) or if two
transactions raced on one order's link and its status record (the migration says when).
"""

import time

from django.core.management.base import BaseCommand
from django.db import connection


class Command(BaseCommand):
    help = "Recompute the report summaries (PostgreSQL; SQLite reports read the records live)."

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("Nothing to rebuild: on SQLite the reports read the records live.")
            return
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT shopsync_report_rebuild_all()")
        self.stdout.write(f"Report summaries rebuilt in {time.perf_counter() - started:.1f} s.")
