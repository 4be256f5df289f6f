"""TimsSimulator: the simulator over real HTTP (stdlib ThreadingHTTPServer), in-process or CLI.

ASSUMED INTERFACE: it serves our default TIMS profile (or the profile it is given), not TIMS.

    with TimsSimulator(seed=3) as sim:
        client = TimsClient(sim.client_profile(), sim.credentials.as_dict())
        sim.inject("rate_limit", retry_after=2)
        sim.advance(120)  # orders move two steps on
"""

import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.simulator_http import SimulatorHTTPServer
from connectors.tims.profile import TimsProfile
from connectors.tims.simulator.app import SimCredentials, SimRequest, SimulatorApp
from connectors.tims.simulator.state import SimClock, SimState

# Longest request body the simulator reads (bytes): a bigger one is refused with 413.
MAX_BODY = 5_000_000
# How often the serving thread looks for stop(): short, so tests stop quickly.
SHUTDOWN_POLL = 0.05


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        request = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.app.handle(request)
        if response.fault == "drop":
            self.close_connection = True
            return
        if response.fault == "delay":
            time.sleep(response.delay)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a timeout test)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(SimulatorHTTPServer):
    app: SimulatorApp
    verbose = False


class TimsSimulator:
    """The TIMS simulator (assumed profile) on a local port; `port=0` picks a free one."""

    def __init__(
        self,
        *,
        seed: int = 1,
        profile: TimsProfile | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        path_prefix: str = "",
        credentials: SimCredentials | None = None,
        step_seconds: float = 60.0,
        latency: float = 0.0,
        max_requests_per_second: float = 0.0,
        clock: SimClock | None = None,
        verbose: bool = False,
    ) -> None:
        self.app = SimulatorApp(
            seed=seed,
            profile=profile,
            credentials=credentials,
            step_seconds=step_seconds,
            latency=latency,
            max_requests_per_second=max_requests_per_second,
            clock=clock,
            path_prefix=path_prefix,
        )
        self.host, self.port, self.verbose = host, port, verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> str:
        server = _Server((self.host, self.port), _Handler)
        server.app = self.app
        server.verbose = self.verbose
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}{self.app.path_prefix}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL},
            name="tims-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """For the CLI: block until interrupted."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> "TimsSimulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ----------------------------------------------------------------

    @property
    def state(self) -> SimState:
        return self.app.state

    @property
    def profile(self) -> TimsProfile:
        return self.app.profile

    @property
    def credentials(self) -> SimCredentials:
        return self.app.credentials

    def client_profile(self) -> TimsProfile:
        """The simulator's profile with base_url pointing at it: hand it to TimsClient."""
        return self.app.profile.model_copy(update={"base_url": self.base_url})

    def connection_options(self) -> dict[str, Any]:
        """Connection.options for a TIMS Connection pointing here."""
        return {"profile": self.client_profile().model_dump(mode="json")}

    def inject(self, kind: str, **kwargs: Any) -> None:
        self.app.inject(kind, **kwargs)

    def advance(self, seconds: float) -> None:
        self.app.advance(seconds)
