"""Serve a FakeApp over real HTTP on 127.0.0.1, in this process or in a child process.

    with FakeServer(app) as server:
        requests.get(f"{server.url}/repos/o/r")
        assert server.request_count("/repos/o/r") == 1

Threaded (one thread per connection), HTTP/1.1 with keep-alive, a random free
port. `stop()` closes every open connection and joins every thread it started,
so a test leaks neither. Every request is recorded; `server.faults` decides
which ones fail (see `faults.py`). Paths under `/__fake__/` are the control API
a child-process server is driven by; they are never recorded nor faulted.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.fakes.app import FakeApp, Request, Response
from tests.fakes.faults import FaultKind, Faults, InjectedFault

CONTROL_PREFIX = "/__fake__/"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RecordedRequest:
    """What the fake received. `status` is filled in once answered (None: no answer, a fault)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    fault: str | None = None
    status: int | None = None
    received_at: float = field(default_factory=time.monotonic)


class _HTTPServer(ThreadingHTTPServer):
    # Connection threads are joined by server_close(), so nothing outlives stop().
    # socketserver only keeps (and joins) non-daemon threads.
    block_on_close = True
    daemon_threads = False
    # Benchmarks open many connections at once.
    request_queue_size = 128
    fake: FakeServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (a reverse DNS lookup); not needed here.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = self.server_address[:2]


class _Connection(BaseHTTPRequestHandler):
    """One client connection: parses requests, asks the FakeServer, writes answers or faults."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        fake = self.server.fake
        # Socket timeout: an idle keep-alive connection is closed after this long.
        self.timeout = fake.idle_timeout
        super().setup()
        threading.current_thread().name = f"fake-{fake.app.name}-{fake.port}"
        fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away, or a fault closed the socket on purpose
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is in `FakeServer.requests`."""

    def handle_request(self) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            self._send(Response.json({"message": str(error)}, status=400))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=CaseInsensitiveDict(self.headers.items()),
            body=body,
        )
        if request.path.startswith(CONTROL_PREFIX):
            self._send(fake._control(request))
            return
        fault = fake.faults.decide(request.path)
        record = fake._record(request, fault)
        if fault is None:
            response = fake._respond(request)
            record.status = response.status
            self._send(response)
            return
        self._inject(fault, request, record)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_request

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            raise ValueError(f"bad Content-Length {length!r}")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size_line = self.rfile.readline(65537).split(b";", 1)[0].strip()
            size = int(size_line, 16)
            if size == 0:
                # Trailer lines up to the blank line that ends the body.
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _send(self, response: Response, *, body_bytes: bytes | None = None) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body if body_bytes is None else body_bytes)

    def _inject(self, fault: InjectedFault, request: Request, record: RecordedRequest) -> None:
        fake = self.server.fake
        if fault.status is not None:
            headers = {}
            if fault.kind is FaultKind.RATE_LIMITED:
                headers["Retry-After"] = str(fault.retry_after)
            message = f"{fault.status} (injected fault)"
            record.status = fault.status
            self._send(Response.json({"message": message}, status=fault.status, headers=headers))
            return
        self.close_connection = True
        if fault.kind is FaultKind.RESET:
            self._reset()
        elif fault.kind is FaultKind.STALL:
            # Woken early by stop(), so a stalled request never delays teardown.
            fake._stopping.wait(fault.stall_seconds)
        elif fault.kind is FaultKind.TRUNCATE:
            self._send_truncated(fake._respond(request))

    def _reset(self) -> None:
        # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The socket's file descriptor is released only when its last file object is;
        # close both now so the RST goes out before any orderly shutdown could.
        self.connection.close()
        self.rfile.close()

    def _send_truncated(self, response: Response) -> None:
        body = response.body or b'{"padding": "never sent"}'
        promised = Response(status=response.status, body=body, headers=response.headers)
        self._send(promised, body_bytes=body[: len(body) // 2])


class FakeServer:
    """A FakeApp on 127.0.0.1:<free port>; a context manager, or start()/stop()."""

    def __init__(
        self,
        app: FakeApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.faults = Faults()
        self.handler_errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._requests_changed = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        # Connections accepted since start: keep-alive clients open one and reuse it.
        self.connections_opened = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> FakeServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _Connection)
        httpd.fake = self
        self._httpd = httpd
        self.port = httpd.server_port
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.app.name}-{self.port}-accept",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close open connections, wake stalled requests, join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._connections_lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            _shutdown_quietly(connection)
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)
            self.connections_opened += 1
            if self._stopping.is_set():
                # Accepted just as stop() began: it must not block the join.
                _shutdown_quietly(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    @staticmethod
    def start_in_subprocess(
        factory: str,
        *,
        options: dict[str, Any] | None = None,
        faults: dict[str, Any] | None = None,
    ) -> SubprocessFakeServer:
        """Serve `factory` ("package.module:function" returning a FakeApp) from a child process."""
        return SubprocessFakeServer(factory, options=options, faults=faults).start()

    # --- the request log ------------------------------------------------------------
    def _record(self, request: Request, fault: InjectedFault | None) -> RecordedRequest:
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=dict(request.headers.items()),
            body=request.body,
            fault=str(fault.kind) if fault else None,
        )
        with self._requests_changed:
            self._requests.append(record)
            self._requests_changed.notify_all()
        return record

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (control requests excluded), oldest first."""
        with self._requests_changed:
            return list(self._requests)

    def request_count(self, path: str | None = None, method: str | None = None) -> int:
        return sum(
            1
            for record in self.requests
            if (path is None or record.path == path) and (method is None or record.method == method)
        )

    def counts_by_path(self) -> Counter[str]:
        return Counter(record.path for record in self.requests)

    def clear_requests(self) -> None:
        with self._requests_changed:
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived; TimeoutError after `timeout` seconds."""
        with self._requests_changed:
            if not self._requests_changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} requests after {timeout}s, not {count}")
            return list(self._requests)

    # --- answering -------------------------------------------------------------------
    def _respond(self, request: Request) -> Response:
        try:
            return self.app.handle(request)
        except Exception:  # a bug in a fake: answer 500 and keep it for the test to see
            self.handler_errors.append(traceback.format_exc())
            return Response.json({"message": "fake handler crashed"}, status=500)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": len(self.requests),
            "by_path": dict(self.counts_by_path()),
            "faults": self.faults.counts,
            "fault_total": self.faults.total,
            "handler_errors": len(self.handler_errors),
        }

    def _control(self, request: Request) -> Response:
        """The control API, for a server in a child process (see SubprocessFakeServer)."""
        action = (request.method, request.path[len(CONTROL_PREFIX) :])
        if action == ("GET", "stats"):
            return Response.json(self.stats())
        if action == ("PUT", "faults"):
            try:
                self.faults.set(**(request.json() or {}))
            except (TypeError, ValueError) as error:
                return Response.json({"message": str(error)}, status=400)
            return Response(status=204)
        if action == ("DELETE", "faults"):
            self.faults.clear()
            return Response(status=204)
        if action == ("DELETE", "requests"):
            self.clear_requests()
            return Response(status=204)
        return Response.json({"message": "unknown control action"}, status=404)


def _shutdown_quietly(connection: socket.socket) -> None:
    # OSError: already closed by the client or by a fault.
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class SubprocessFakeServer:
    """A FakeServer in a child process (`python -m tests.fakes.serve`), for benchmarks.

    The child exits when stopped, and also when this process dies (it watches its stdin).
    Faults and the request log are reached through the control API.
    """

    def __init__(
        self,
        factory: str,
        *,
        options: dict[str, Any] | None = None,
        faults: dict[str, Any] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.factory = factory
        self.options = options or {}
        self.faults = faults
        self.startup_timeout = startup_timeout
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> SubprocessFakeServer:
        command = [sys.executable, "-m", "tests.fakes.serve", self.factory, "--port", "0"]
        command += ["--options", json.dumps(self.options)]
        if self.faults:
            command += ["--faults", json.dumps(self.faults)]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._read_url()
        return self

    def _read_url(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(self.startup_timeout):
                self.stop()
                raise TimeoutError(f"fake server {self.factory} did not start")
        line = self.process.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"fake server {self.factory} failed to start: {line!r}")
        return line

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self.process = None

    def __enter__(self) -> SubprocessFakeServer:
        return self if self.process else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, method: str, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        # Always http://127.0.0.1:<port>, as printed by the child.
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}{CONTROL_PREFIX}{action}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            body = response.read()
        return json.loads(body) if body else None

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def set_faults(self, **plan: Any) -> None:
        self._call("PUT", "faults", plan)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")
