"""The daily report's summary and the reconciliation's findings on PostgreSQL, kept exact by
statement-level triggers.

Aggregating a 90-day window live reads ~600,000 order records and expands every order link's
invoices and payments (measured 3-4 s at 1,000,000 records, bench/bench_reports.py). Instead,
every INSERT, UPDATE, DELETE or TRUNCATE of integrations_syncrecord and integrations_link
appends what it changed in each (integration, day, currency, kind) to
integrations_reportdaily: one row per group per statement (transition tables), so a bulk
insert of a million records adds a few hundred rows, a pipeline status change that moves no
figure adds none, and writers never update a shared row (no lock contention between workers).
The report sums the rows of its range; integrations.selectors_reports folds the appended
rows into one per group when they pile up.

Kinds: 1 sales (order_to_cash records with a total, by UTC day created), 2 shipments
(succeeded status_back records whose plan says shipped, by UTC day finished, in the currency
of the shop order linked to that ERP order), 3 invoices and 4 payments (the entries of an
order link's data["invoices"] / data["payments"], by their own date). These are exactly the
live queries' definitions (selectors_reports.daily_aggregates_live); tests compare the two.

The reconciliation's findings are kept the same way in integrations_reportfinding (one row
per current finding; see the section below) with their counts in
integrations_reportfindingcount (appended deltas, like the daily summary).

Plain SQL outside the model state (as 0006): the tables are read only by raw SQL in
selectors_reports. SQLite has none of it and the reports are computed live there.

Known limit: a shipment's currency, and whether a record is missing in the ERP, depend on a
row of the other table; two transactions that change both sides of one order at the same
time (a link and its status_back record, each in its own transaction, neither committed)
each see the other's old state. The flows write an order's link before its status_back
records can succeed, so they do not do this; shopsync_report_rebuild_all() recomputes
everything if it ever happens.
"""

# SQL here is built from this module's constants only, never from input.
# ruff: noqa: S608

from django.db import migrations

SUMMARY = "integrations_reportdaily"

# A malformed amount must never abort the writer's statement: it counts, with no amount.
AMOUNT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION shopsync_report_amount(value text) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value ~ '^\s*[-+]?([0-9]{1,14}(\.[0-9]*)?|\.[0-9]+)\s*$' THEN value::numeric
    END
$$;
"""


def _sales(rows: str, sign: str) -> str:
    return f"""
    SELECT r.integration_id, to_char((r.created_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
        COALESCE(r.payload_in->>'currency', ''), 1, {sign},
        {sign} * round(shopsync_report_amount(r.payload_in->>'total_paid'), 6)
    FROM {rows} r
    WHERE r.flow = 'order_to_cash' AND r.payload_in ? 'total_paid'"""


def _shipments(rows: str, sign: str, *, old_orders: str | None = None) -> str:
    """Shipments of `rows`, in the currency of the linked shop order. `old_orders`: the same
    statement's old record rows, whose currency applies to what is being subtracted."""
    if old_orders:
        currency = (
            f"CASE WHEN EXISTS (SELECT 1 FROM {old_orders} oo WHERE oo.id = l.record_id) "
            f"THEN COALESCE((SELECT oo.payload_in->>'currency' FROM {old_orders} oo "
            "WHERE oo.id = l.record_id), '') ELSE COALESCE(o.payload_in->>'currency', '') END"
        )
    else:
        currency = "COALESCE(o.payload_in->>'currency', '')"
    return f"""
    SELECT r.integration_id, to_char((r.finished_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
        {currency}, 2, {sign}, NULL::numeric
    FROM {rows} r
    LEFT JOIN integrations_link l ON l.integration_id = r.integration_id
        AND l.entity = 'order' AND l.erp_id = r.source_id
    LEFT JOIN integrations_syncrecord o ON o.id = l.record_id
    WHERE r.flow = 'status_back' AND r.status = 'succeeded' AND r.finished_at IS NOT NULL
        AND r.payload_out -> 'erp_state' = '"shipped"'::jsonb"""


def _link_entries(rows: str, sign: str) -> str:
    parts = []
    for kind, array_key, date_key, amount_key in (
        (3, "invoices", "date", "total"),
        (4, "payments", "paid_at", "amount"),
    ):
        parts.append(f"""
    SELECT r.integration_id, substr(e->>'{date_key}', 1, 10), COALESCE(e->>'currency', ''),
        {kind}, {sign}, {sign} * shopsync_report_amount(e->>'{amount_key}')
    FROM {rows} r, jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'{array_key}') = 'array'
        THEN r.data->'{array_key}' ELSE '[]'::jsonb END) e
    WHERE r.entity = 'order' AND substr(e->>'{date_key}', 1, 10) IS NOT NULL""")
    return " UNION ALL ".join(parts)


def _link_shipments(rows: str, sign: str) -> str:
    """Shipments whose ERP order a changed link names move between the link's currency (the
    link present) and '' (no link): +sign at the link's currency, -sign at ''."""
    return f"""
    SELECT s.integration_id, to_char((s.finished_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
        c.currency, 2, c.n, NULL::numeric
    FROM {rows} l
    JOIN integrations_syncrecord s ON s.integration_id = l.integration_id
        AND s.source_id = l.erp_id
    LEFT JOIN integrations_syncrecord o ON o.id = l.record_id
    CROSS JOIN LATERAL (VALUES (COALESCE(o.payload_in->>'currency', ''), {sign}),
                               ('', -1 * {sign})) c(currency, n)
    WHERE l.entity = 'order' AND s.flow = 'status_back' AND s.status = 'succeeded'
        AND s.finished_at IS NOT NULL AND s.payload_out -> 'erp_state' = '"shipped"'::jsonb"""


def _record_currency_moves() -> str:
    """Shipments of orders whose currency this UPDATE changed, moved from the old currency to
    the new; the statement's own status_back rows are already counted by _shipments."""
    return """
    SELECT s.integration_id, to_char((s.finished_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD'),
        c.currency, 2, c.n, NULL::numeric
    FROM old_rows oo
    JOIN new_rows nn ON nn.id = oo.id
        AND (oo.payload_in->>'currency') IS DISTINCT FROM (nn.payload_in->>'currency')
    JOIN integrations_link l ON l.record_id = oo.id AND l.entity = 'order'
    JOIN integrations_syncrecord s ON s.integration_id = l.integration_id
        AND s.source_id = l.erp_id
    CROSS JOIN LATERAL (VALUES (COALESCE(oo.payload_in->>'currency', ''), -1),
                               (COALESCE(nn.payload_in->>'currency', ''), 1)) c(currency, n)
    WHERE s.flow = 'status_back' AND s.status = 'succeeded' AND s.finished_at IS NOT NULL
        AND s.payload_out -> 'erp_state' = '"shipped"'::jsonb
        AND NOT EXISTS (SELECT 1 FROM new_rows x WHERE x.id = s.id)"""


def _append(parts: list[str], *, compacted: bool = False) -> str:
    """Insert the parts' rows, one per group; groups whose changes cancel out are dropped."""
    union = " UNION ALL ".join(parts)
    return f"""
    INSERT INTO {SUMMARY} (integration_id, day, currency, kind, n, total, compacted)
    SELECT integration_id, day, currency, kind, SUM(n), SUM(total), {str(compacted).lower()}
    FROM ({union}) AS d(integration_id, day, currency, kind, n, total)
    WHERE day IS NOT NULL
    GROUP BY integration_id, day, currency, kind
    HAVING SUM(n) <> 0 OR COALESCE(SUM(total), 0) <> 0"""


def _function(name: str, body: str) -> str:
    guard = GUARDS.get(name, "")
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {guard}
    {body};
    RETURN NULL;
END
$$;"""


def _unchanged(columns: str) -> str:
    """An UPDATE that changed none of `columns` (a row of expressions over alias x) in any row
    returns at once: most updates are the pipeline's claim, step and attempt bookkeeping."""
    old, new = columns.replace("x.", "o."), columns.replace("x.", "n.")
    return (
        "IF NOT EXISTS (SELECT 1 FROM old_rows o FULL JOIN new_rows n ON n.id = o.id "
        f"WHERE o.id IS NULL OR n.id IS NULL OR ROW({old}) IS DISTINCT FROM ROW({new})) "
        "THEN RETURN NULL; END IF;"
    )


# What each UPDATE trigger reads of a row; nothing else can move a figure or a finding.
GUARDS = {
    "shopsync_report_record_update": _unchanged(
        "x.integration_id, x.flow, x.created_at, x.payload_in, x.source_id, "
        "CASE WHEN x.flow = 'status_back' THEN x.status = 'succeeded' END, "
        "CASE WHEN x.flow = 'status_back' THEN x.finished_at END, "
        "CASE WHEN x.flow = 'status_back' THEN x.payload_out -> 'erp_state' END"
    ),
    "shopsync_recon_record_update": _unchanged(
        "x.integration_id, x.flow, x.source_id, x.status = 'skipped', x.created_at, x.payload_in"
    ),
}
LINK_COLUMNS = (
    "x.integration_id, x.entity, x.shop_id, x.erp_id, x.record_id, x.data -> 'invoices', "
    "x.data -> 'payments'"
)
GUARDS["shopsync_report_link_update"] = _unchanged(LINK_COLUMNS)
GUARDS["shopsync_recon_link_update"] = _unchanged(LINK_COLUMNS)


REBUILD = f"""
DELETE FROM {SUMMARY};
{
    _append(
        [
            _sales("integrations_syncrecord", "1"),
            _shipments("integrations_syncrecord", "1"),
            _link_entries("integrations_link", "1"),
        ],
        compacted=True,
    )
}"""

FUNCTIONS = {
    "shopsync_report_record_insert": _append(
        [_sales("new_rows", "1"), _shipments("new_rows", "1")]
    ),
    "shopsync_report_record_update": _append(
        [
            _sales("old_rows", "-1"),
            _sales("new_rows", "1"),
            _shipments("old_rows", "-1", old_orders="old_rows"),
            _shipments("new_rows", "1"),
            _record_currency_moves(),
        ]
    ),
    "shopsync_report_record_delete": _append(
        [_sales("old_rows", "-1"), _shipments("old_rows", "-1", old_orders="old_rows")]
    ),
    "shopsync_report_link_insert": _append(
        [_link_entries("new_rows", "1"), _link_shipments("new_rows", "1")]
    ),
    "shopsync_report_link_update": _append(
        [
            _link_entries("old_rows", "-1"),
            _link_entries("new_rows", "1"),
            _link_shipments("old_rows", "-1"),
            _link_shipments("new_rows", "1"),
        ]
    ),
    "shopsync_report_link_delete": _append(
        [_link_entries("old_rows", "-1"), _link_shipments("old_rows", "-1")]
    ),
    # TRUNCATE has no transition table (and Django's test flush uses it): start over.
    "shopsync_report_rebuild": REBUILD,
}

TRIGGERS = [
    # (trigger, table, event, transition tables, function)
    ("insert", "integrations_syncrecord", "INSERT", "NEW TABLE AS new_rows", "record_insert"),
    (
        "update",
        "integrations_syncrecord",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "record_update",
    ),
    ("delete", "integrations_syncrecord", "DELETE", "OLD TABLE AS old_rows", "record_delete"),
    ("truncate", "integrations_syncrecord", "TRUNCATE", "", "rebuild"),
    ("insert", "integrations_link", "INSERT", "NEW TABLE AS new_rows", "link_insert"),
    (
        "update",
        "integrations_link",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "link_update",
    ),
    ("delete", "integrations_link", "DELETE", "OLD TABLE AS old_rows", "link_delete"),
    ("truncate", "integrations_link", "TRUNCATE", "", "rebuild"),
]


# ---------------------------------------------------------------- reconciliation findings
#
# integrations_reportfinding holds the reconciliation's current findings, one row per (kind,
# object): 1 an order_to_cash record no order link names (missing in the ERP), 2 a status_back
# record whose ERP order no order link names (ERP order without a shop order), 3 an order link
# whose invoices do not add up to its shop order's total, 4 an order link whose shop order is
# paid and whose ERP payments do not cover it. A statement recomputes the findings of the
# records and links it touched, and of the other side they depend on (a link decides whether
# records with its shop id or ERP number are missing; a record's payload decides its links).
# The definitions are selectors_reports.reconciliation_querysets' (the tests compare them).

FINDINGS = "integrations_reportfinding"
PAID_SHOP_STATES = ("paid", "processing", "shipped", "delivered", "invoiced")
TOLERANCE = "0.01"
SHOP_TOTAL = "(shopsync_report_amount(r.payload_in->>'total_paid'))::numeric(20, 6)"


def _link_sum(array_key: str, amount_key: str) -> str:
    return (
        f"(SELECT COALESCE(SUM(shopsync_report_amount(e->>'{amount_key}')), 0) FROM "
        f"jsonb_array_elements(CASE WHEN jsonb_typeof(l.data->'{array_key}') = 'array' "
        f"THEN l.data->'{array_key}' ELSE '[]'::jsonb END) e)"
    )


def _record_findings(ids: str) -> str:
    """Findings 1 and 2 of the records whose ids `ids` (a SELECT) gives."""
    return f"""
    INSERT INTO {FINDINGS} (kind, integration_id, object_id, since)
    SELECT CASE WHEN r.flow = 'order_to_cash' THEN 1 ELSE 2 END, r.integration_id, r.id,
        r.created_at
    FROM integrations_syncrecord r
    WHERE r.id IN ({ids})
        AND ((r.flow = 'order_to_cash' AND r.status <> 'skipped' AND NOT EXISTS (
                SELECT 1 FROM integrations_link l WHERE l.integration_id = r.integration_id
                AND l.entity = 'order' AND l.shop_id = r.source_id))
            OR (r.flow = 'status_back' AND NOT EXISTS (
                SELECT 1 FROM integrations_link l WHERE l.integration_id = r.integration_id
                AND l.entity = 'order' AND l.erp_id = r.source_id)))
    ON CONFLICT DO NOTHING"""


def _link_findings(ids: str) -> str:
    """Findings 3 and 4 of the links whose ids `ids` (a SELECT) gives."""
    paid_states = ", ".join(f"'{state}'" for state in PAID_SHOP_STATES)
    invoice_count = (
        "CASE WHEN jsonb_typeof(l.data->'invoices') = 'array' "
        "THEN jsonb_array_length(l.data->'invoices') ELSE 0 END"
    )
    return f"""
    INSERT INTO {FINDINGS} (kind, integration_id, object_id, since)
    SELECT k.kind, l.integration_id, l.id, NULL
    FROM integrations_link l
    JOIN integrations_syncrecord r ON r.id = l.record_id
    CROSS JOIN LATERAL (SELECT {SHOP_TOTAL} AS shop,
        {_link_sum("invoices", "total")} AS invoiced,
        {_link_sum("payments", "amount")} AS paid) a
    CROSS JOIN LATERAL (VALUES
        (3, {invoice_count} > 0 AND (a.shop IS NULL OR a.shop > a.invoiced + {TOLERANCE}
            OR a.shop < a.invoiced - {TOLERANCE})),
        (4, ((r.payload_in->>'canonical_state')::varchar IN ({paid_states}))
            AND a.paid < a.shop - {TOLERANCE})) k(kind, found)
    WHERE l.id IN ({ids}) AND l.entity = 'order' AND r.payload_in ? 'total_paid' AND k.found
    ON CONFLICT DO NOTHING"""


def _forget(kinds: str, ids: str) -> str:
    return f"DELETE FROM {FINDINGS} WHERE kind IN ({kinds}) AND object_id IN ({ids})"


_RECORD_IDS = "SELECT id FROM {t}"
_LINKS_OF_RECORDS = "SELECT l.id FROM integrations_link l WHERE l.record_id IN (SELECT id FROM {t})"
# Records a changed link decides on: by shop id (missing) and by ERP number (orphans).
_RECORDS_OF_LINKS = (
    "SELECT r.id FROM {t} x JOIN integrations_syncrecord r "
    "ON r.integration_id = x.integration_id AND r.source_id = x.shop_id "
    "AND r.flow = 'order_to_cash' WHERE x.entity = 'order' "
    "UNION SELECT r.id FROM {t} x JOIN integrations_syncrecord r "
    "ON r.integration_id = x.integration_id AND r.source_id = x.erp_id "
    "AND r.flow = 'status_back' WHERE x.entity = 'order'"
)


def _record_statement(tables: tuple[str, ...]) -> str:
    parts = []
    for t in tables:
        parts += [
            _forget("1, 2", _RECORD_IDS.format(t=t)),
            _forget("3, 4", _LINKS_OF_RECORDS.format(t=t)),
        ]
    record_ids = " UNION ".join(_RECORD_IDS.format(t=t) for t in tables)
    link_ids = " UNION ".join(_LINKS_OF_RECORDS.format(t=t) for t in tables)
    parts += [_record_findings(record_ids), _link_findings(link_ids)]
    return ";\n".join(parts)


def _link_statement(tables: tuple[str, ...]) -> str:
    parts = []
    for t in tables:
        parts += [
            _forget("3, 4", f"SELECT id FROM {t}"),
            _forget("1, 2", _RECORDS_OF_LINKS.format(t=t)),
        ]
    link_ids = " UNION ".join(f"SELECT id FROM {t}" for t in tables)
    record_ids = " UNION ".join(_RECORDS_OF_LINKS.format(t=t) for t in tables)
    parts += [_link_findings(link_ids), _record_findings(record_ids)]
    return ";\n".join(parts)


# How many findings of each kind and integration, as appended deltas (like the daily summary):
# a statement-level trigger on the findings table adds what each statement inserted or
# deleted, so a count is the sum of a few rows instead of a scan of every finding.
FINDING_COUNTS = "integrations_reportfindingcount"
COUNT_FUNCTIONS = {
    name: f"""
    INSERT INTO {FINDING_COUNTS} (kind, integration_id, n)
    SELECT kind, integration_id, {sign} * count(*) FROM {rows} GROUP BY kind, integration_id"""
    for name, rows, sign in (
        ("shopsync_recon_count_insert", "new_rows", "1"),
        ("shopsync_recon_count_delete", "old_rows", "-1"),
    )
}
COUNT_TRIGGERS = [
    ("count_insert", "INSERT", "NEW TABLE AS new_rows", "shopsync_recon_count_insert"),
    ("count_delete", "DELETE", "OLD TABLE AS old_rows", "shopsync_recon_count_delete"),
]

REBUILD_FINDINGS = f"""
DELETE FROM {FINDINGS};
{_record_findings("SELECT id FROM integrations_syncrecord")};
{_link_findings("SELECT id FROM integrations_link")}"""

FINDING_FUNCTIONS = {
    "shopsync_recon_record_insert": _record_statement(("new_rows",)),
    "shopsync_recon_record_update": _record_statement(("old_rows", "new_rows")),
    "shopsync_recon_record_delete": _record_statement(("old_rows",)),
    "shopsync_recon_link_insert": _link_statement(("new_rows",)),
    "shopsync_recon_link_update": _link_statement(("old_rows", "new_rows")),
    "shopsync_recon_link_delete": _link_statement(("old_rows",)),
    "shopsync_recon_rebuild": REBUILD_FINDINGS,
}


# Everything recomputed from the records and links: after the migration, and after a bulk
# load run with these triggers disabled (ALTER TABLE … DISABLE TRIGGER USER), which is much
# faster for millions of rows than statement by statement (bench/bench_reports.py does so).
REBUILD_ALL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shopsync_report_rebuild_all() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    {REBUILD};
    {REBUILD_FINDINGS};
    -- Counted afresh: the findings may have been written with their count triggers off.
    DELETE FROM {FINDING_COUNTS};
    INSERT INTO {FINDING_COUNTS} (kind, integration_id, n, compacted)
    SELECT kind, integration_id, count(*), true FROM {FINDINGS} GROUP BY kind, integration_id;
END
$$;"""


def _trigger_name(name: str, table: str, prefix: str = "shopsync_report") -> str:
    return f"{prefix}_{table.removeprefix('integrations_')}_{name}"


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    statements = [
        f"""CREATE TABLE IF NOT EXISTS {SUMMARY} (
            id bigserial PRIMARY KEY,
            integration_id bigint NOT NULL,
            day text NOT NULL,
            currency text NOT NULL,
            kind smallint NOT NULL,
            n bigint NOT NULL,
            total numeric,
            compacted boolean NOT NULL DEFAULT false
        )""",
        # The report's range scan reads everything it needs from this index.
        f"CREATE INDEX IF NOT EXISTS {SUMMARY}_day ON {SUMMARY} (day) "
        "INCLUDE (integration_id, currency, kind, n, total)",
        # The rows not folded yet (what compaction looks for).
        f"CREATE INDEX IF NOT EXISTS {SUMMARY}_delta ON {SUMMARY} (id) WHERE NOT compacted",
        f"""CREATE TABLE IF NOT EXISTS {FINDINGS} (
            kind smallint NOT NULL,
            integration_id bigint NOT NULL,
            object_id bigint NOT NULL,
            since timestamptz,
            PRIMARY KEY (kind, object_id)
        )""",
        # Counts and the first rows of a kind (records by age, links newest first), per
        # integration or all.
        f"CREATE INDEX IF NOT EXISTS {FINDINGS}_list ON {FINDINGS} "
        "(kind, integration_id, since, object_id)",
        f"CREATE INDEX IF NOT EXISTS {FINDINGS}_age ON {FINDINGS} (kind, since, object_id)",
        f"""CREATE TABLE IF NOT EXISTS {FINDING_COUNTS} (
            id bigserial PRIMARY KEY,
            kind smallint NOT NULL,
            integration_id bigint NOT NULL,
            n bigint NOT NULL,
            compacted boolean NOT NULL DEFAULT false
        )""",
        f"CREATE INDEX IF NOT EXISTS {FINDING_COUNTS}_delta ON {FINDING_COUNTS} (id) "
        "WHERE NOT compacted",
        # The order report's filter by shop reference (data__reference), else a scan of every
        # link (313 ms at 380,000 links). Not partial: PostgreSQL keeps statistics for the
        # expression only then, and without them it estimates 0.5% of links and walks the
        # primary key instead.
        "CREATE INDEX IF NOT EXISTS link_report_reference ON integrations_link "
        "((data -> 'reference'))",
        # The health report's open counts by status (COUNT(*)): an index-only scan of this
        # narrow index, 27 ms for 170,000 open records instead of 440 ms through the heap.
        "CREATE INDEX IF NOT EXISTS syncrecord_report_status ON integrations_syncrecord (status)",
        AMOUNT_FUNCTION,
        *(_function(name, body) for name, body in FUNCTIONS.items()),
        *(_function(name, body) for name, body in FINDING_FUNCTIONS.items()),
        *(_function(name, body) for name, body in COUNT_FUNCTIONS.items()),
        REBUILD_ALL_FUNCTION,
    ]
    for name, event, transition, function in COUNT_TRIGGERS:
        statements += [
            f"DROP TRIGGER IF EXISTS shopsync_recon_{name} ON {FINDINGS}",
            f"CREATE TRIGGER shopsync_recon_{name} AFTER {event} ON {FINDINGS} "
            f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    for prefix in ("shopsync_report", "shopsync_recon"):
        for name, table, event, transition, function in TRIGGERS:
            trigger = _trigger_name(name, table, prefix)
            referencing = f"REFERENCING {transition}" if transition else ""
            statements += [
                f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
                f"CREATE TRIGGER {trigger} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_{function}()",
            ]
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        cursor.execute("SELECT shopsync_report_rebuild_all()")  # what is already there


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for prefix in ("shopsync_report", "shopsync_recon"):
            for name, table, *_ in TRIGGERS:
                trigger = _trigger_name(name, table, prefix)
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for name, *_ in COUNT_TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS shopsync_recon_{name} ON {FINDINGS}")
        for name in [*FUNCTIONS, *FINDING_FUNCTIONS, *COUNT_FUNCTIONS]:
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        cursor.execute("DROP FUNCTION IF EXISTS shopsync_report_rebuild_all()")
        cursor.execute("DROP FUNCTION IF EXISTS shopsync_report_amount(text)")
        cursor.execute(f"DROP TABLE IF EXISTS {SUMMARY}")
        cursor.execute(f"DROP TABLE IF EXISTS {FINDINGS}")
        cursor.execute(f"DROP TABLE IF EXISTS {FINDING_COUNTS}")
        cursor.execute("DROP INDEX IF EXISTS link_report_reference")
        cursor.execute("DROP INDEX IF EXISTS syncrecord_report_status")


class Migration(migrations.Migration):
    dependencies = [("integrations", "0006_console_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
