"""Services over connections and encrypted data."""

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.apps import apps
from django.db import connection as db_connection
from django.db import transaction

from connectors.encryption import rotate_token
from connectors.errors import ConnectorError
from connectors.fields import EncryptedJSONField
from connectors.models import Connection, System
from connectors.permissions import PermissionRow, Verdict
from connectors.redaction import redact_text, truncate

logger = logging.getLogger(__name__)


def encrypted_fields_rotate() -> dict[str, int]:
    """Re-encrypt every encrypted column with the newest key; returns rows changed per field.

    Works on the ciphertext alone (MultiFernet.rotate): nothing is decrypted into objects
    that could be logged. Each row is rewritten only if it still holds the token read, so a
    concurrent save is never overwritten with older credentials.
    """
    counts: dict[str, int] = {}
    quote = db_connection.ops.quote_name
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, EncryptedJSONField):
                continue
            table, column, pk = (
                quote(model._meta.db_table),
                quote(field.column),
                quote(model._meta.pk.column),
            )
            rotated = 0
            with transaction.atomic(), db_connection.cursor() as cursor:
                cursor.execute(f"SELECT {pk}, {column} FROM {table}")  # noqa: S608 (quoted names)
                for row_pk, token in cursor.fetchall():
                    if not token:
                        continue
                    cursor.execute(
                        f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                        [rotate_token(token), row_pk, token],
                    )
                    rotated += cursor.rowcount
            counts[f"{model._meta.label}.{field.name}"] = rotated
    return counts


def connection_save(
    *, connection: Connection, new_credentials: dict[str, Any] | None = None
) -> Connection:
    """Save a connection; when its credentials are replaced, retire what the old ones granted.

    For Infor M3 the old service account's shared token is revoked (rotation), after commit and
    best effort: an unreachable token endpoint must not stop a person saving new credentials.
    """
    old = connection.credentials if (connection.pk and new_credentials is not None) else None
    if new_credentials is not None:
        connection.credentials = new_credentials
    connection.save()
    if old and connection.system == System.INFOR_M3:
        transaction.on_commit(lambda: _m3_token_revoke(connection, old))
    return connection


def _m3_token_revoke(connection: Connection, old_credentials: dict[str, Any]) -> None:
    from connectors.infor.auth import connection_token_revoke

    try:
        connection_token_revoke(connection, credentials=old_credentials)
    except (ConnectorError, ValueError) as exc:
        logger.warning(
            "connection %s: the old ION token could not be revoked: %s", connection.pk, exc
        )


# ---------------------------------------------------------------- connection test


@dataclass
class ConnectionTestResult:
    """What a connection test found: reachable, how fast, and per operation may / may not."""

    ok: bool
    system: str
    message: str
    round_trip_ms: float | None = None
    token_ms: float | None = None
    version: str = ""
    flows: tuple[str, ...] = ()
    permissions: list[PermissionRow] = dataclasses.field(default_factory=list)

    @property
    def missing(self) -> list[PermissionRow]:
        return [row for row in self.permissions if row.problem]

    @property
    def more_than_needed(self) -> list[PermissionRow]:
        return [row for row in self.permissions if row.verdict is Verdict.MORE_THAN_NEEDED]


def connection_test(*, connection: Connection) -> ConnectionTestResult:
    """Test a connection's credentials and record the outcome on it (last check).

    Per system: authenticate, time one cheap read (the round trip), and report each operation
    the flows of the integrations using this connection need (all flows when none) as may or
    may not; what the credentials may do beyond that is flagged "more than needed" where the
    system says what it granted (PrestaShop lists it; M3 and TIMS do not). Writes are never
    tried. Error text is redacted before it is shown or stored.
    """
    test = _TESTS.get(connection.system)
    if test is None:
        result = ConnectionTestResult(
            ok=False, system=connection.system, message=f"no test for {connection.system!r}"
        )
    else:
        flows = _flows_using(connection, known=_KNOWN_FLOWS[connection.system]())
        try:
            result = test(connection, flows)
        except ConnectorError as error:
            result = ConnectionTestResult(
                ok=False,
                system=connection.system,
                flows=tuple(flows),
                message=f"{type(error).__name__}: {error}",
            )
        except ValueError as error:  # credentials that do not parse (an .ionapi file)
            result = ConnectionTestResult(
                ok=False, system=connection.system, flows=tuple(flows), message=str(error)
            )
    result.message = truncate(redact_text(result.message), 2000)
    result.permissions = [
        replace(row, detail=truncate(redact_text(row.detail), 500)) for row in result.permissions
    ]
    connection.record_check(ok=result.ok, message=result.message)
    return result


def _flows_using(connection: Connection, *, known: Iterable[str]) -> list[str]:
    """The known flows enabled on the integrations that use this connection; all when none.
    Read through the reverse relations (the connectors app does not import integrations)."""
    enabled: set[str] = set()
    for accessor in ("shop_integrations", "erp_integrations"):
        related = getattr(connection, accessor, None)
        if related is not None:
            for flows in related.values_list("enabled_flows", flat=True):
                enabled.update(flows or ())
    known = list(known)
    return [flow for flow in known if flow in enabled] or known


def _summary(result: ConnectionTestResult, *, answered: str) -> str:
    parts = [answered]
    may = sum(1 for row in result.permissions if row.verdict is Verdict.MAY)
    parts.append(f"{may} needed operation(s) allowed")
    if result.missing:
        parts.append(
            "MISSING: "
            + ", ".join(f"{r.operation} ({', '.join(r.needed_by)})" for r in result.missing)
        )
    if result.more_than_needed:
        parts.append(
            "more than needed (least privilege: consider removing): "
            + ", ".join(r.operation for r in result.more_than_needed)
        )
    not_probed = sum(1 for row in result.permissions if row.verdict is Verdict.NOT_PROBED)
    if not_probed:
        parts.append(f"{not_probed} write(s) not probed")
    return "; ".join(parts)


def _test_prestashop(connection: Connection, flows: list[str]) -> ConnectionTestResult:
    from connectors.prestashop import check as ps_check
    from connectors.prestashop.client import PrestaShopClient

    client = PrestaShopClient.from_connection(connection)
    try:
        started = time.perf_counter()
        check = ps_check.check_connection(client, flows=flows)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
    finally:
        client.close()
    if not check.ok and not check.version:
        return ConnectionTestResult(
            ok=False, system=connection.system, flows=tuple(flows), message=check.message
        )
    patch = bool(client.version and client.version[0] >= 8)
    users: dict[str, list[str]] = {}
    for flow in flows:
        for resource, methods in ps_check.needs_for([flow], patch=patch).items():
            for method in sorted(methods):
                users.setdefault(f"{method} {resource}", []).append(flow)
    missing = set(check.missing)
    rows = [
        PermissionRow(
            operation,
            Verdict.MAY_NOT if operation in missing else Verdict.MAY,
            tuple(flows_),
            "not granted to the key" if operation in missing else "granted",
        )
        for operation, flows_ in sorted(users.items())
    ]
    rows += [
        PermissionRow(operation, Verdict.MORE_THAN_NEEDED, (), "granted, used by no flow")
        for operation in check.unneeded
    ]
    result = ConnectionTestResult(
        ok=check.ok,
        system=connection.system,
        message="",
        round_trip_ms=elapsed,
        version=check.version,
        flows=tuple(flows),
        permissions=rows,
    )
    result.message = _summary(
        result, answered=f"PrestaShop {check.version} answered GET /api/ in {elapsed} ms"
    )
    return result


def _test_m3(connection: Connection, flows: list[str]) -> ConnectionTestResult:
    from connectors.infor import check as m3_check
    from connectors.infor.client import M3Client

    client = M3Client.from_connection(connection)
    try:
        token_ms = m3_check.token_time(client)
        rows, elapsed = m3_check.check_permissions(client, flows=flows)
    finally:
        client.close()
    return _erp_result(connection, flows, rows, elapsed, token_ms, "M3")


def _test_tims(connection: Connection, flows: list[str]) -> ConnectionTestResult:
    from connectors.tims import check as tims_check
    from connectors.tims.client import TimsClient

    client = TimsClient.from_connection(connection)
    try:
        token_ms = tims_check.token_time(client)
        rows, elapsed = tims_check.check_permissions(client, flows=flows)
    finally:
        client.close()
    return _erp_result(connection, flows, rows, elapsed, token_ms, "TIMS")


def _erp_result(
    connection: Connection,
    flows: list[str],
    rows: list[PermissionRow],
    elapsed: float | None,
    token_ms: float | None,
    name: str,
) -> ConnectionTestResult:
    result = ConnectionTestResult(
        ok=not any(row.problem for row in rows),
        system=connection.system,
        message="",
        round_trip_ms=elapsed,
        token_ms=token_ms,
        flows=tuple(flows),
        permissions=rows,
    )
    answered = f"{name} answered" + (f" in {elapsed} ms" if elapsed is not None else "")
    if token_ms is not None:
        answered += f", token in {token_ms} ms"
    result.message = _summary(result, answered=answered) + (
        f"; {name} does not list what the credentials are granted beyond these"
    )
    return result


def _known_prestashop() -> list[str]:
    from connectors.prestashop.check import FLOW_NEEDS

    return list(FLOW_NEEDS)


def _known_m3() -> list[str]:
    from connectors.infor.check import FLOW_NEEDS

    return list(FLOW_NEEDS)


def _known_tims() -> list[str]:
    from connectors.tims.check import FLOW_NEEDS

    return list(FLOW_NEEDS)


# The connector modules are imported when a test runs: the admin need not load every client.
_TESTS: dict[str, Callable[[Connection, list[str]], ConnectionTestResult]] = {
    System.PRESTASHOP: _test_prestashop,
    System.INFOR_M3: _test_m3,
    System.TIMS: _test_tims,
}
_KNOWN_FLOWS: dict[str, Callable[[], list[str]]] = {
    System.PRESTASHOP: _known_prestashop,
    System.INFOR_M3: _known_m3,
    System.TIMS: _known_tims,
}
