"""The record search by customer e-mail (integrations.admin.console.record_search).

An expression index on the lower-cased e-mail of an order's payload, so a full address finds
its records without reading every payload. Plain SQL kept out of the model state, like 0006.
"""

from django.db import migrations

# The expression must be the one Django writes for Lower(KT("payload_in__customer__email")).
CREATE = (
    "CREATE INDEX IF NOT EXISTS syncrecord_console_email "
    "ON integrations_syncrecord (LOWER((payload_in #>> '{customer,email}')))"
)


def forwards(apps, schema_editor) -> None:
    # JSON path expression indexes differ on SQLite; there the search scans (small databases).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS syncrecord_console_email")


class Migration(migrations.Migration):
    dependencies = [("integrations", "0007_report_summaries")]

    operations = [migrations.RunPython(forwards, backwards)]
