"""The HTTP server the simulators share: threaded, and quiet when a client goes away.

A client that times out (the fault knobs make that happen on purpose) closes its socket while
the simulator is still writing; the stdlib server prints a traceback for each. Those are the
client's choice, not a simulator fault, so they are dropped; anything else is still printed.
"""

from http.server import ThreadingHTTPServer
from typing import Any

_CLIENT_WENT_AWAY = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], _CLIENT_WENT_AWAY):
            return
        super().handle_error(request, client_address)
