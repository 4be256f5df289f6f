"""MI response bodies: REST v2 (results/records) and v1 (MIRecord/NameValue), errors included.

An MI business error comes back with HTTP 200 and the error in the body (reference §3.5):
v2 puts errorMessage/errorCode/errorField on the transaction's result and counts it in
nrOfFailedTransactions; v1 answers a top-level ServerReturnedNOK object, or an ErrorMessage
next to rows already streamed.
"""

from dataclasses import dataclass, field
from typing import Any

from connectors.errors import DataError, PermanentError

# MI error codes worth retrying later (record locked by another job…); none is documented, so
# the list is empty by default and set per connection (options "transient_mi_codes").
DEFAULT_TRANSIENT_MI_CODES: frozenset[str] = frozenset()


class MIError(PermanentError):
    """M3 refused a transaction; `field`/`value` name the input it blamed."""

    def __init__(
        self,
        message: str,
        *,
        program: str,
        transaction: str,
        code: str = "",
        error_type: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.program = program
        self.transaction = transaction
        self.code = code
        self.error_type = error_type


@dataclass
class MIResult:
    """One transaction's outcome."""

    transaction: str
    records: list[dict[str, str]] = field(default_factory=list)
    error_message: str = ""
    error_code: str = ""
    error_field: str = ""
    error_type: str = ""
    error_cfg: str = ""
    not_processed: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.error_message or self.error_code or self.error_type or self.not_processed)

    def error(self, program: str, record: dict[str, Any] | None = None) -> MIError:
        """The PermanentError an ops person reads: transaction, field, value, M3's own text."""
        fld = self.error_field
        value = (record or {}).get(fld) if fld else None
        where = f" field {fld}" if fld else ""
        if value not in (None, ""):
            where += f" value {str(value)!r}"
        text = self.error_message or ("not processed" if self.not_processed else "failed")
        code = f" [{self.error_code}]" if self.error_code else ""
        return MIError(
            f"M3 {program}/{self.transaction}{where}: {text}{code}",
            program=program,
            transaction=self.transaction,
            code=self.error_code,
            error_type=self.error_type,
            field=fld,
            value=value,
            details={"errorCfg": self.error_cfg} if self.error_cfg else None,
        )


@dataclass
class MIResponse:
    results: list[MIResult]
    successful: int = 0
    failed: int = 0
    was_terminated: bool = False
    termination_reason: str = ""
    version: int = 2

    @property
    def ok(self) -> bool:
        return self.failed == 0 and all(r.ok for r in self.results) and not self.was_terminated


def trim_record(record: dict[str, Any]) -> dict[str, str]:
    """M3 character fields are blank-padded: right-trim every value (reference §3.2)."""
    return {str(k).strip(): ("" if v is None else str(v).rstrip()) for k, v in record.items()}


def _flag(value: Any) -> bool:
    # The real capture shows wasTerminated as the string "false" (reference §3.3).
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_response(body: Any, *, program: str = "", transaction: str = "") -> MIResponse:
    """Either version of the body, as one MIResponse."""
    if not isinstance(body, dict):
        raise DataError(
            f"M3 {program}/{transaction}: response is not a JSON object", value=repr(body)[:80]
        )
    if "results" in body:
        return _parse_v2(body)
    if "MIRecord" in body or "@type" in body or "Program" in body or "ErrorMessage" in body:
        return _parse_v1(body, transaction=transaction)
    raise DataError(
        f"M3 {program}/{transaction}: unrecognised response (keys {', '.join(sorted(body))[:120]})"
    )


def _parse_v2(body: dict[str, Any]) -> MIResponse:
    results = []
    for item in _list(body, "results"):
        if not isinstance(item, dict):
            continue
        results.append(
            MIResult(
                transaction=_text(item.get("transaction")),
                records=[trim_record(r) for r in _list(item, "records") if isinstance(r, dict)],
                error_message=_text(item.get("errorMessage")),
                error_code=_text(item.get("errorCode")),
                error_field=_text(item.get("errorField")),
                error_type=_text(item.get("errorType")),
                error_cfg=_text(item.get("errorCfg")),
                not_processed=_flag(item.get("notProcessed")),
                parameters=p if isinstance(p := item.get("parameters"), dict) else {},
            )
        )
    failed = _count(body, "nrOfFailedTransactions")
    return MIResponse(
        results=results,
        # "nrOfSuccessfullTransactions" really has two l's (reference §3.3).
        successful=_count(body, "nrOfSuccessfullTransactions"),
        failed=max(failed, sum(1 for r in results if not r.ok)),
        was_terminated=_flag(body.get("wasTerminated")),
        termination_reason=_text(body.get("terminationReason")),
    )


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name) or []
    if not isinstance(value, list):
        raise DataError(f"M3 response: {name} is not a list", field=name, value=repr(value)[:80])
    return value


def _count(body: dict[str, Any], name: str) -> int:
    value = body.get(name) or 0
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise DataError(
            f"M3 response: {name} is not a count", field=name, value=repr(value)[:80]
        ) from None


def _v1_error(error: dict[str, Any], transaction: str) -> MIResult:
    return MIResult(
        transaction=transaction,
        error_message=_text(error.get("Message")),
        error_code=_text(error.get("@code")),
        error_field=_text(error.get("@field")),
        error_type=_text(error.get("@type")) or "ServerReturnedNOK",
        error_cfg=_text(error.get("@cfg")),
    )


def _parse_v1(body: dict[str, Any], *, transaction: str) -> MIResponse:
    name = _text(body.get("Transaction")) or transaction
    if "@type" in body and "MIRecord" not in body:
        return MIResponse(results=[_v1_error(body, name)], failed=1, version=1)
    records = []
    for row in _list(body, "MIRecord"):
        if not isinstance(row, dict):
            continue  # the trimmed sample holds a placeholder string
        pairs = row.get("NameValue") or []
        if not isinstance(pairs, list) or not all(isinstance(nv, dict) for nv in pairs):
            raise DataError(
                f"M3 {name}: MIRecord.NameValue is not a list of Name/Value pairs",
                field="NameValue",
                value=repr(pairs)[:80],
            )
        records.append(trim_record({nv.get("Name", ""): nv.get("Value", "") for nv in pairs}))
    result = MIResult(transaction=name, records=records)
    if isinstance(body.get("ErrorMessage"), dict):
        # Some rows were streamed before M3 failed: the rows are kept for inspection but the
        # transaction failed (KB 2159861).
        error = _v1_error(body["ErrorMessage"], name)
        error.records = records
        return MIResponse(results=[error], failed=1, version=1)
    return MIResponse(results=[result], successful=1, version=1)


def metadata_v1(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """v1 Metadata: field name -> {type, length, description}."""
    fields = ((body.get("Metadata") or {}).get("Field")) or []
    return {
        f["@name"]: {
            "type": f.get("@type", "A"),
            "length": int(f.get("@length") or 0),
            "description": f.get("@description", ""),
        }
        for f in fields
        if isinstance(f, dict) and f.get("@name")
    }
