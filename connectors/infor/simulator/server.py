"""The HTTP side of the simulator: the ION token endpoint and the M3 REST API on one port.

Paths (reference §1-§3): POST /{ti}/as/token.oauth2 and /{ti}/as/revoke_token.oauth2;
/{ti}/M3/m3api-rest/v2/execute/{PROGRAM}/{TRANSACTION} (GET), /{ti}/M3/m3api-rest/v2/execute
(bulk POST) and /{ti}/M3/m3api-rest/execute/{PROGRAM}/{TRANSACTION};matrix (v1) with a
bearer token; the same /m3api-rest/... paths without prefix take basic auth (on-premises).

Knobs: latency, quota (429 with or without Retry-After), injected faults (any status, timeouts,
dropped connections, malformed bodies; before or after M3 processed the call), token
lifetime and forced expiry; `bod_url` + `bod_secret` post signed ION-style BODs on order
status changes (notify.py; off by default).
"""

import base64
import binascii
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connectors.infor.simulator.notify import BodNotifier
from connectors.infor.simulator.state import M3State, MINotOK
from connectors.simulator_http import SimulatorHTTPServer

CONTROL_PARAMS = frozenset(
    {
        "maxrecs",
        "returncols",
        "cono",
        "divi",
        "dateformat",
        "excludeempty",
        "excludempty",
        "righttrim",
        "format",
        "extendedresult",
        "m3user",
        "metadata",
        "lanc",
    }
)
# Rows a list returns when the caller sets no maxrecs (Infor's H5 library default, §3.2).
DEFAULT_MAXRECS = 100


@dataclass
class Fault:
    """One injected failure. `match` is a substring of the path or the transaction names
    ("" = any API call); `kind` is "status", "timeout", "drop" or "malformed"."""

    kind: str = "status"
    status: int = 503
    retry_after: str | None = None
    match: str = ""
    after_processing: bool = False  # M3 did the work, then the answer was lost
    count: int = 1
    delay: float = 2.0  # for "timeout": how long the server stalls
    token_endpoint: bool = False  # apply to token calls instead of API calls
    skip: int = 0  # let this many matching calls through first


@dataclass
class TokenRecord:
    access_token: str
    refresh_token: str
    expires_at: float
    client_id: str


@dataclass
class Quota:
    limit: int
    per_seconds: float = 1.0
    retry_after: bool = True
    hits: deque = field(default_factory=deque)


class M3Simulator:
    """Run with `with M3Simulator(seed=1) as sim:` → `sim.base_url`, `sim.ionapi()`."""

    def __init__(
        self,
        *,
        seed: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        tenant: str = "SIM_TST",
        token_lifetime: float = 7200.0,
        issue_refresh_tokens: bool = True,
        latency: float = 0.0,
        basic_user: str = "M3SRVADM",
        basic_password: str = "sim-basic-password",  # noqa: S107 (a simulator's fixed secret)
        bod_url: str = "",
        bod_secret: str = "",
        **state_options: Any,
    ) -> None:
        self.host, self.port, self.tenant = host, port, tenant
        self.token_lifetime = token_lifetime
        self.issue_refresh_tokens = issue_refresh_tokens
        self.latency = latency
        self.basic_user, self.basic_password = basic_user, basic_password
        self.state = M3State(seed=seed, **state_options)
        rnd = self.state.random
        self.client_id = f"{tenant}~sim{rnd.getrandbits(64):016x}"
        self.client_secret = f"sim-secret-{rnd.getrandbits(96):024x}"
        self.saak = f"{tenant}#sim-access-{rnd.getrandbits(64):016x}"
        self.sask = f"sim-secret-key-{rnd.getrandbits(96):024x}"
        self.tokens: dict[str, TokenRecord] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> client id
        self.revoked: list[str] = []
        self.grants = {"password": 0, "refresh_token": 0}
        self.requests: list[dict[str, Any]] = []  # every HTTP request, kept for assertions
        self.faults: list[Fault] = []
        self.quota: Quota | None = None
        self._lock = threading.Lock()
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # ION-style BOD notifications (notify.py): off unless a URL is given.
        self.bod_url, self.bod_secret = bod_url, bod_secret
        self.notifier: BodNotifier | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"sim": self})
        self._server = SimulatorHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="m3-simulator",
            daemon=True,
        )
        self._thread.start()
        if self.bod_url and self.notifier is None:
            if not self.bod_secret:
                raise ValueError("BOD notifications need a signing secret (bod_secret)")
            self.notifier = BodNotifier(
                self.state, url=self.bod_url, secret=self.bod_secret, tenant=self.tenant
            )
        return self.base_url

    def stop(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "M3Simulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ionapi(self) -> dict[str, str]:
        """A .ionapi dict pointing at this simulator (same keys as a real download)."""
        return {
            "ti": self.tenant,
            "cn": "PrestaShop Connector (simulator)",
            "dt": "12",
            "ci": self.client_id,
            "cs": self.client_secret,
            "iu": self.base_url,
            "pu": f"{self.base_url}/{self.tenant}/as/",
            "oa": "authorization.oauth2",
            "ot": "token.oauth2",
            "or": "revoke_token.oauth2",
            "ev": "U000000000",
            "v": "1.0",
            "saak": self.saak,
            "sask": self.sask,
        }

    def onprem_credentials(self) -> dict[str, str]:
        return {"username": self.basic_user, "password": self.basic_password}

    # -- knobs -------------------------------------------------------------------------------

    def fail_next(self, status: int = 503, **kwargs: Any) -> Fault:
        kind = kwargs.pop("kind", "status")
        fault = Fault(kind=kind, status=status, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def set_quota(
        self, limit: int | None, *, per_seconds: float = 1.0, retry_after: bool = True
    ) -> None:
        with self._lock:
            self.quota = Quota(limit, per_seconds, retry_after) if limit else None

    def expire_tokens(self) -> None:
        """Every issued access token expires now (refresh tokens stay valid)."""
        with self._lock:
            for record in self.tokens.values():
                record.expires_at = 0.0

    def _take_fault(self, target: str, *, token_endpoint: bool, after: bool) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.token_endpoint != token_endpoint or fault.after_processing != after:
                    continue
                if fault.match and fault.match not in target:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _over_quota(self) -> Quota | None:
        with self._lock:
            quota = self.quota
            if quota is None:
                return None
            now = time.monotonic()
            while quota.hits and now - quota.hits[0] > quota.per_seconds:
                quota.hits.popleft()
            if len(quota.hits) >= quota.limit:
                return quota
            quota.hits.append(now)
            return None

    # -- token endpoint ----------------------------------------------------------------------

    def _issue(self, client_id: str, refresh_token: str = "") -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        refresh = refresh_token or (secrets.token_urlsafe(24) if self.issue_refresh_tokens else "")
        with self._lock:
            self.tokens[access] = TokenRecord(
                access, refresh, time.monotonic() + self.token_lifetime, client_id
            )
            if refresh:
                self.refresh_tokens[refresh] = client_id
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.token_lifetime) if self.token_lifetime >= 1 else 1,
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    def token_request(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> tuple[int, dict]:
        client_id, client_secret = basic or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "client authentication failed",
            }
        grant = form.get("grant_type", "")
        if grant == "password":
            if form.get("username") != self.saak or form.get("password") != self.sask:
                return 400, {"error": "invalid_grant", "error_description": "bad service account"}
            self.grants["password"] += 1
            return 200, self._issue(client_id)
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if self.refresh_tokens.get(refresh) != client_id:
                return 400, {"error": "invalid_grant", "error_description": "refresh token invalid"}
            self.grants["refresh_token"] += 1
            return 200, self._issue(client_id, refresh)
        return 400, {"error": "unsupported_grant_type", "error_description": grant}

    def revoke_request(self, form: dict[str, str], basic: tuple[str, str] | None) -> int:
        if basic != (self.client_id, self.client_secret):
            return 401
        token = form.get("token", "")
        with self._lock:
            self.revoked.append(token)
            if token in self.refresh_tokens:
                del self.refresh_tokens[token]
                for access in [a for a, r in self.tokens.items() if r.refresh_token == token]:
                    del self.tokens[access]
            self.tokens.pop(token, None)
        return 200

    def bearer_valid(self, token: str) -> bool:
        with self._lock:
            record = self.tokens.get(token)
            return record is not None and record.expires_at > time.monotonic()


class _Handler(BaseHTTPRequestHandler):
    sim: M3Simulator
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server_version = "M3Simulator/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self._log["status"] = status  # before writing: the client may look as soon as it reads
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _basic(self) -> tuple[str, str] | None:
        value = self.headers.get("Authorization", "")
        if not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(user), unquote(password)

    def _apply(self, fault: Fault) -> bool:
        """Carry out a fault; True if the response has been dealt with."""
        if fault.kind == "drop":
            self.close_connection = True
            self._log["status"] = "dropped"
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            return False
        if fault.kind == "malformed":
            self._send(200, b"<html>upstream glitch</html>")
            return True
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._send(fault.status, {"error": f"simulated HTTP {fault.status}"}, headers)
        return True

    # -- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        sim = self.sim
        url = urlsplit(self.path)
        path = url.path
        body = self._body()
        self._log: dict[str, Any] = {"method": method, "path": path, "status": None}
        with sim._lock:
            sim.requests.append(self._log)
        if sim.latency:
            time.sleep(sim.latency)
        as_prefix = f"/{sim.tenant}/as/"
        if path.startswith(as_prefix):
            self._auth_server(method, path[len(as_prefix) :], body)
            return
        api_prefix = f"/{sim.tenant}/M3/m3api-rest/"
        if path.startswith(api_prefix):
            rest, cloud = path[len(api_prefix) :], True
        elif path.startswith("/m3api-rest/"):
            rest, cloud = path[len("/m3api-rest/") :], False
        else:
            self._send(404, {"error": "Not Found", "path": path})
            return
        target = f"{path}?{url.query}"
        fault = sim._take_fault(target, token_endpoint=False, after=False)
        if fault and self._apply(fault):
            return
        over = sim._over_quota()
        if over is not None:
            headers = (
                {"Retry-After": str(max(1, int(over.per_seconds)))} if over.retry_after else {}
            )
            self._send(429, {"error": "Quota exceeded"}, headers)
            return
        if cloud:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not sim.bearer_valid(auth[7:].strip()):
                self._send(401, {"error": "invalid_token", "message": "Unauthorized"})
                return
        elif self._basic() != (sim.basic_user, sim.basic_password):
            self._send(401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="M3"'})
            return
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            status, payload = self._api(method, rest, query, body)
        except _HttpError as exc:
            self._send(exc.status, {"error": exc.message})
            return
        fault = sim._take_fault(
            f"{target} {payload.get('_names', '')}", token_endpoint=False, after=True
        )
        payload.pop("_names", None)
        if fault and self._apply(fault):
            return
        self._send(status, payload)

    def _auth_server(self, method: str, endpoint: str, body: bytes) -> None:
        sim = self.sim
        fault = sim._take_fault(endpoint, token_endpoint=True, after=False)
        if fault and self._apply(fault):
            return
        if method != "POST":
            self._send(405, {"error": "method not allowed"})
            return
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        if endpoint == "token.oauth2":
            status, payload = sim.token_request(form, self._basic())
            self._send(status, payload, {"Cache-Control": "no-store"})
        elif endpoint == "revoke_token.oauth2":
            self._send(sim.revoke_request(form, self._basic()), {})
        else:
            self._send(404, {"error": "Not Found"})

    # -- M3 REST -------------------------------------------------------------------------------

    def _api(self, method: str, rest: str, query: dict[str, str], body: bytes) -> tuple[int, dict]:
        parts = rest.split("/")
        if parts[:2] == ["v2", "execute"]:
            if len(parts) == 2:
                if method != "POST":
                    raise _HttpError(405, "bulk execute takes POST")
                return 200, self._bulk(query, body)
            if len(parts) == 4:
                if method != "GET":
                    raise _HttpError(405, "execute takes GET")
                return 200, self._v2_single(parts[2], parts[3], query)
        if parts[0] == "execute" and len(parts) == 3:
            if method != "GET":
                raise _HttpError(405, "execute takes GET")
            return 200, self._v1(parts[1], parts[2], query)
        raise _HttpError(404, f"no resource {rest}")

    @staticmethod
    def _split(query: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        control = {k.lower(): v for k, v in query.items() if k.lower() in CONTROL_PARAMS}
        fields = {k: v for k, v in query.items() if k.lower() not in CONTROL_PARAMS}
        return control, fields

    def _run(
        self,
        program: str,
        name: str,
        fields: dict[str, str],
        control: dict[str, str],
        columns: list[str] | None = None,
        pad: bool = False,
    ) -> dict[str, Any]:
        """One transaction as a v2 result object."""
        state = self.sim.state
        try:
            rows = state.execute(program, name, fields, cono=control.get("cono", ""))
        except MINotOK as exc:
            return {
                "transaction": name,
                "errorMessage": exc.message,
                "errorType": exc.kind,
                "errorCode": exc.code,
                "errorCfg": "",
                "errorField": exc.field,
            }
        maxrecs = int(control.get("maxrecs") or DEFAULT_MAXRECS)
        if maxrecs > 0:
            rows = rows[:maxrecs]
        if columns:
            rows = [{k: r.get(k, "") for k in columns} for r in rows]
        if pad:
            rows = [{k: self._pad(k, v) for k, v in r.items()} for r in rows]
        return {"transaction": name, "records": rows}

    @staticmethod
    def _pad(name: str, value: str) -> str:
        length = M3State.field_length(name)
        return value.ljust(length) if length else value

    @staticmethod
    def _envelope(results: list[dict[str, Any]]) -> dict[str, Any]:
        failed = sum(1 for r in results if "errorMessage" in r)
        return {
            "results": results,
            "wasTerminated": False,
            "nrOfSuccessfullTransactions": len(results) - failed,
            "nrOfFailedTransactions": failed,
        }

    def _v2_single(self, program: str, name: str, query: dict[str, str]) -> dict[str, Any]:
        control, fields = self._split(query)
        columns = [c for c in control.get("returncols", "").split(",") if c]
        pad = control.get("righttrim", "false").lower() != "true"
        result = self._run(program, name, fields, control, columns, pad)
        return {**self._envelope([result]), "_names": f"{program}/{name}"}

    def _bulk(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}")
            program = payload["program"]
            transactions = payload["transactions"]
        except (ValueError, KeyError, TypeError):
            raise _HttpError(400, "body must be {program, transactions: [...]}") from None
        control, _ = self._split(query)
        pad = control.get("righttrim", "false").lower() != "true"
        results = []
        for tx in transactions:
            record = {k: str(v) for k, v in (tx.get("record") or {}).items()}
            columns = list(tx.get("selectedColumns") or [])
            results.append(
                self._run(program, tx.get("transaction", ""), record, control, columns, pad)
            )
        names = " ".join(f"{program}/{tx.get('transaction')}" for tx in transactions)
        return {**self._envelope(results), "_names": names}

    def _v1(self, program: str, spec: str, query: dict[str, str]) -> dict[str, Any]:
        name, *matrix = spec.split(";")
        control = {}
        for item in matrix:
            key, _, value = item.partition("=")
            control[key.lower()] = unquote(value)
        control.setdefault("maxrecs", str(DEFAULT_MAXRECS))
        columns = [c for c in control.get("returncols", "").split(",") if c]
        result = self._run(program, name, query, control, columns, pad=True)
        if "errorMessage" in result:
            return {
                "@type": result["errorType"],
                "@code": result["errorCode"],
                "@cfg": None,
                "@field": result["errorField"],
                "Message": result["errorMessage"].ljust(120),
                "_names": f"{program}/{name}",
            }
        records = result["records"]
        names = list(records[0]) if records else []
        return {
            "Program": program,
            "Transaction": name,
            "Metadata": {
                "Field": [
                    {
                        "@name": n,
                        "@type": "A",
                        "@length": M3State.field_length(n) or 15,
                        "@description": n,
                    }
                    for n in names
                ]
            },
            "MIRecord": [
                {"RowIndex": i, "NameValue": [{"Name": k, "Value": v} for k, v in r.items()]}
                for i, r in enumerate(records)
            ],
            "_names": f"{program}/{name}",
        }


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message
