"""Indexes the ops console reads by (see integrations/selectors_console.py).

Plain SQL, not AddIndex: SyncRecord's Meta belongs to the pipeline, and these indexes serve
only the console's reads, so they stay out of the model state (makemigrations sees nothing).
"""

from django.db import migrations

INDEXES = {
    # The dashboard's hour/day windows.
    "syncrecord_console_updated": "(updated_at)",
    # The record list's date hierarchy and date filter.
    "syncrecord_console_created": "(created_at)",
    # The record search's exact matches (the reference has its own index already).
    "syncrecord_console_source": "(source_id)",
    "syncrecord_console_target": "(target_id)",
    # Order latency: succeeded order-to-cash records by finish time.
    "syncrecord_console_latency": "(flow, status, finished_at)",
}


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_roles")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {name} ON integrations_syncrecord {columns}",
            f"DROP INDEX IF EXISTS {name}",
        )
        for name, columns in INDEXES.items()
    ]
