"""The M3 client: MI transactions over REST (v2 single and bulk, v1), through the ION API
gateway with an OAuth bearer token (cloud) or straight to m3api-rest with basic auth
(on-premises).

Transport only: one transaction or one bulk call in, typed records or an MIError out. What
the calls mean (customers, items, orders…) lives in operations.py and orders.py.
"""

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from connectors.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    TransientError,
)
from connectors.http import ClientOptions, HttpClient, classify_response
from connectors.infor.auth import IonTokenProvider, connection_key_for
from connectors.infor.catalog import check_input, convert_output
from connectors.infor.ionapi import IonApiCredentials
from connectors.infor.mi import MIError, MIResponse, MIResult, parse_response
from connectors.infor.settings import M3Settings, is_read
from connectors.redaction import redact_text, register_secret

# Gateway statuses that mean the connection is configured wrong, not that data is (§6).
CONFIGURATION_STATUSES = {404: "wrong resource path", 405: "wrong HTTP method for that API"}


@dataclass
class BulkTransaction:
    transaction: str
    record: dict[str, Any] = field(default_factory=dict)
    selected_columns: Sequence[str] = ()


@dataclass
class CallStats:
    """Calls made by this client (for the connection check, benchmarks and tests)."""

    calls: int = 0
    transactions: int = 0
    seconds: float = 0.0


class M3Client(HttpClient):
    system = "infor_m3"

    def __init__(
        self,
        base_url: str,
        *,
        settings: M3Settings | None = None,
        tokens: IonTokenProvider | None = None,
        basic_auth: tuple[str, str] | None = None,
        options: ClientOptions | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, options=options, session=session, sleep=sleep)
        self.settings = settings or M3Settings()
        self.tokens = tokens
        self.basic_auth = basic_auth
        if basic_auth:
            register_secret(basic_auth[1])
        self.stats = CallStats()

    @property
    def bulk_enabled(self) -> bool:
        """Whether execute_bulk sends bulk POSTs (v2 only) or runs transactions one by one."""
        return self.settings.use_bulk and self.settings.api_version == "v2"

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_ionapi(
        cls,
        ionapi: dict[str, Any],
        *,
        connection_key: str | None = None,
        options: dict[str, Any] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> "M3Client":
        """A cloud client from a parsed .ionapi dict: API root = iu/ti/M3, token at pu+ot."""
        credentials = IonApiCredentials.from_dict(ionapi)
        client_options = ClientOptions.from_mapping(options)
        settings = M3Settings.from_mapping(options)
        session = session or HttpClient._new_session()
        tokens = IonTokenProvider(
            credentials,
            connection_key=connection_key,
            session=session,
            timeout=(client_options.connect_timeout, client_options.read_timeout),
            auth_method=settings.token_auth_method,
            scope=settings.scope or None,
        )
        return cls(
            f"{credentials.api_base}/M3",
            settings=settings,
            tokens=tokens,
            options=client_options,
            session=session,
            sleep=sleep,
        )

    @classmethod
    def from_connection(cls, connection: Any, **kwargs: Any) -> "M3Client":
        """Cloud: credentials are the .ionapi content, and the gateway URL comes from its
        iu + ti (base_url is not used: the file is the authority). On-premises: credentials
        {"username", "password"} and base_url is the m3api-rest host (https://m3be:21108)."""
        credentials = dict(connection.credentials or {})
        options = dict(connection.options or {})
        if connection.kind == "on_premises":
            user, password = credentials.get("username"), credentials.get("password")
            if not user or not password:
                raise AuthError(
                    f"connection {connection.name!r}: on-premises M3 needs credentials "
                    "'username' and 'password'",
                    field="credentials",
                )
            return cls(
                connection.base_url,
                settings=M3Settings.from_mapping(options),
                basic_auth=(user, password),
                options=ClientOptions.from_mapping(options),
                **kwargs,
            )
        return cls.from_ionapi(
            credentials, connection_key=connection_key_for(connection), options=options, **kwargs
        )

    # -- HTTP hooks ---------------------------------------------------------------------

    def authenticate(self, request_kwargs: dict[str, Any]) -> None:
        headers = dict(request_kwargs.get("headers") or {})
        headers.setdefault("Accept", "application/json")
        if self.basic_auth:
            request_kwargs["auth"] = self.basic_auth
        elif self.tokens is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.tokens.access_token()}"
        request_kwargs["headers"] = headers

    def error_from_response(
        self, response: requests.Response, *, what: str
    ) -> ConnectorError | None:
        status = response.status_code
        if status in CONFIGURATION_STATUSES:
            return PermanentError(
                f"{what}: HTTP {status} from the gateway ({CONFIGURATION_STATUSES[status]}): "
                "check the connection's base URL, tenant and API version",
                status_code=status,
                field="base_url",
                value=redact_text(response.url or ""),
                details={"configuration": True},
            )
        return classify_response(response, what=what)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call; on a 401 with a bearer token, one retry with a fresh token.

        Retrying after a 401 is safe even for a write: the gateway refused the call before
        M3 saw it (§6).
        """
        if self.tokens is None:
            return self._timed(method, path, kwargs)
        token = self.tokens.access_token()
        headers = {**(kwargs.pop("headers", None) or {}), "Authorization": f"Bearer {token}"}
        try:
            return self._timed(method, path, {**kwargs, "headers": headers})
        except AuthError as error:
            if error.status_code != 401:
                raise
            self.tokens.invalidate(token)
            fresh = self.tokens.access_token()
            headers["Authorization"] = f"Bearer {fresh}"
            return self._timed(method, path, {**kwargs, "headers": headers})

    def _timed(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        started = time.perf_counter()
        self.stats.calls += 1
        try:
            return super().request(method, path, **kwargs)
        finally:
            self.stats.seconds += time.perf_counter() - started

    # -- MI -----------------------------------------------------------------------------

    def _control(self, *, maxrecs: int | None, returncols: Iterable[str] | None) -> dict[str, str]:
        s = self.settings
        params = {"dateformat": s.dateformat, "righttrim": "true" if s.righttrim else "false"}
        params["excludeempty"] = "false"
        params["maxrecs"] = str(s.maxrecs if maxrecs is None else maxrecs)
        if s.cono:
            params["cono"] = s.cono
        if s.divi:
            params["divi"] = s.divi
        if returncols:
            params["returncols"] = ",".join(returncols)
        return params

    def execute_result(
        self,
        program: str,
        transaction: str,
        record: dict[str, Any] | None = None,
        *,
        maxrecs: int | None = None,
        returncols: Iterable[str] | None = None,
    ) -> tuple[MIResult, dict[str, str]]:
        """Run one transaction (GET, writes included); the result, failed or not."""
        fields = check_input(program, transaction, record or {})
        control = self._control(maxrecs=maxrecs, returncols=returncols)
        what = f"M3 {program}/{transaction}"
        if self.settings.api_version == "v1":
            # v1: control parameters are matrix parameters, spelled excludempty (§3.2)
            control["excludempty"] = control.pop("excludeempty")
            control.pop("dateformat", None)
            control.pop("righttrim", None)
            matrix = "".join(f";{k}={quote(v, safe=',')}" for k, v in control.items())
            path = f"m3api-rest/execute/{program}/{transaction}{matrix}"
            params = fields
        else:
            path = f"m3api-rest/v2/execute/{program}/{transaction}"
            params = {**fields, **control}
        response = self.request(
            "GET", path, params=params, idempotent=is_read(transaction), what=what
        )
        self.stats.transactions += 1
        parsed = self._parse(response, program=program, transaction=transaction)
        result = parsed.results[0] if parsed.results else MIResult(transaction=transaction)
        if not parsed.results and parsed.failed:
            result.error_message = "failed without a result"
        return result, fields

    def execute(
        self,
        program: str,
        transaction: str,
        record: dict[str, Any] | None = None,
        *,
        maxrecs: int | None = None,
        returncols: Iterable[str] | None = None,
        typed: bool = True,
    ) -> list[dict[str, Any]]:
        """Records of one transaction, trimmed (and typed from the catalog); MIError if M3
        refused it."""
        result, sent = self.execute_result(
            program, transaction, record, maxrecs=maxrecs, returncols=returncols
        )
        if not result.ok:
            raise self._mi_error(program, result, sent)
        return [convert_output(r) for r in result.records] if typed else result.records

    def execute_one(
        self, program: str, transaction: str, record: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any] | None:
        rows = self.execute(program, transaction, record, **kw)
        return rows[0] if rows else None

    def execute_bulk(
        self,
        program: str,
        transactions: Sequence[BulkTransaction],
        *,
        maxrecs: int | None = None,
    ) -> list[tuple[MIResult, dict[str, str]]]:
        """Many transactions of one program in as few POSTs as `bulk_max` allows.

        Returns each transaction's result with what was sent; a failed transaction does not
        raise (the caller knows which failures matter). On v1, or with bulk disabled, the
        transactions run one by one.
        """
        rendered = [(tx, check_input(program, tx.transaction, tx.record)) for tx in transactions]
        if not self.bulk_enabled:
            return [
                self.execute_result(program, tx.transaction, tx.record, maxrecs=maxrecs)
                for tx in transactions
            ]
        out: list[tuple[MIResult, dict[str, str]]] = []
        size = max(1, self.settings.bulk_max)
        for start in range(0, len(rendered), size):
            chunk = rendered[start : start + size]
            out.extend(self._bulk_call(program, chunk, maxrecs=maxrecs))
        return out

    def _bulk_call(
        self,
        program: str,
        chunk: list[tuple[BulkTransaction, dict[str, str]]],
        *,
        maxrecs: int | None,
    ) -> list[tuple[MIResult, dict[str, str]]]:
        body = {
            "program": program,
            "transactions": [
                {
                    "transaction": tx.transaction,
                    "record": fields,
                    **(
                        {"selectedColumns": list(tx.selected_columns)}
                        if tx.selected_columns
                        else {}
                    ),
                }
                for tx, fields in chunk
            ],
        }
        names = sorted({tx.transaction for tx, _ in chunk})
        response = self.request(
            "POST",
            "m3api-rest/v2/execute",
            params=self._control(maxrecs=maxrecs, returncols=None),
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            idempotent=all(is_read(n) for n in names),
            what=f"M3 bulk {program} ({len(chunk)}: {', '.join(names)})",
        )
        self.stats.transactions += len(chunk)
        parsed = self._parse(response, program=program, transaction="bulk")
        results = list(parsed.results)
        # A terminated bulk may answer fewer results than transactions: the rest did not run.
        while len(results) < len(chunk):
            tx = chunk[len(results)][0]
            results.append(
                MIResult(
                    transaction=tx.transaction,
                    not_processed=True,
                    error_message=parsed.termination_reason or "not processed",
                )
            )
        return [(result, fields) for result, (_, fields) in zip(results, chunk, strict=False)]

    def _parse(self, response: requests.Response, *, program: str, transaction: str) -> MIResponse:
        try:
            body = response.json()
        except ValueError:
            # A 200 that is not JSON is a proxy or gateway glitch; the outcome is unknown, so
            # the record is retried (an order first looks itself up by CUOR).
            raise TransientError(
                f"M3 {program}/{transaction}: response is not JSON: "
                f"{redact_text(response.text[:200])!r}",
                status_code=response.status_code,
            ) from None
        return parse_response(body, program=program, transaction=transaction)

    def _mi_error(self, program: str, result: MIResult, sent: dict[str, str]) -> ConnectorError:
        error = result.error(program, sent)
        if result.error_code and result.error_code in self.settings.transient_mi_codes:
            return TransientError(str(error), field=error.field, value=error.value)
        return error

    def raise_for_result(self, program: str, result: MIResult, sent: dict[str, str]) -> None:
        if not result.ok:
            raise self._mi_error(program, result, sent)


__all__ = ["BulkTransaction", "M3Client", "MIError"]
