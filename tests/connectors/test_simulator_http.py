"""The simulators' server stays quiet when a client hangs up, and still reports real faults."""

import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from connectors.simulator_http import SimulatorHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/gone":
            raise BrokenPipeError("client closed")
        raise ValueError("a simulator bug")

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def server():
    srv = SimulatorHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def _get(server: SimulatorHTTPServer, path: str) -> None:
    with socket.create_connection(server.server_address, timeout=2) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        sock.recv(100)


def test_client_going_away_prints_nothing(server, capsys):
    _get(server, "/gone")
    server.shutdown()  # joins the handler threads' work before reading stderr
    assert "Traceback" not in capsys.readouterr().err


def test_other_errors_are_still_reported(server, capsys):
    _get(server, "/bug")
    server.shutdown()
    err = capsys.readouterr().err
    assert "ValueError: a simulator bug" in err
