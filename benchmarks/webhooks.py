"""Load POST /api/webhooks/github under gunicorn and check every unique delivery became one Build.

    .venv/bin/python benchmarks/webhooks.py                    # 50,000 requests, 20 % redelivered
    .venv/bin/python benchmarks/webhooks.py --requests 5000    # a quick check
    .venv/bin/python benchmarks/webhooks.py --requests 5000 --profile   # where the time goes

Everything on 127.0.0.1: PostgreSQL (a fresh database, `--postgres-url`), Redis
(`--redis-url`, its database flushed first), production settings (DEBUG off,
SECRET_KEY and HUB_ENCRYPTION_KEY set, CONN_MAX_AGE left at its default,
GITHUB_WEBHOOK_SECRET set). Started here, each in its own process group and all
stopped at the end whatever happens:

- gunicorn, `config.wsgi`, 2 sync workers, access log off, with
  DJANGO_SETTINGS_MODULE=benchmarks.webhook_settings: config.settings plus two
  bare views (benchmarks/webhook_ceiling.py), the ceiling;
- the critical django-q2 cluster (`Q_CLUSTER_NAME=critical manage.py qcluster`,
  INGEST_CRITICAL_WORKERS=1), which runs the webhook processing job.

The load generator is Python: `--client-processes` processes (spawned, no Django
in them), each driving its share of `--connections` concurrent connections with
asyncio. Gunicorn's sync workers close the connection after every response, so
each request opens a new one, as GitHub's deliveries do. Every request is signed
before the clock starts; the body is the documented `workflow_run.completed`
example (fixtures/webhooks/github/workflow_run.completed.json, ~21 KB) with its
run id (all 8 places it appears) replaced by the delivery's own, run_attempt 1,
and a delivery id of its own. A redelivery re-sends an earlier delivery's exact
body and id, later in the sequence (and from the same client process).

Phases, each the same `--requests` requests at the same concurrency:
1. ceiling without INSERT: POST /_bench/ceiling/verify (HMAC, 202);
2. ceiling with INSERT: POST /_bench/ceiling/insert (HMAC, one INSERT, 202);
3. the hub: POST /api/webhooks/github, while the critical cluster processes;
then the wait until no delivery is pending or processing, and the counts: Build
rows against unique deliveries sent, WebhookDelivery rows, deliveries not
processed. Each phase also prints the CPU time spent by the client, the gunicorn
workers, the cluster and this database's PostgreSQL backends.

Targets: accepted/s >= 0.8 x the INSERT ceiling of the same run, p99 <= 50 ms,
exactly one Build and one WebhookDelivery row per unique delivery. Exits 1 when
a count differs or a request was not answered 202.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import hashlib
import hmac
import io
import json
import multiprocessing
import os
import pstats
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, spawned clients too

from benchmarks.common import verdict

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "webhooks" / "github" / "workflow_run.completed.json"
FIXTURE_RUN_ID = 289782451  # workflow_run.id of GitHub's example, in 8 places of the body
FIRST_RUN_ID = 10_000_000_000  # the benchmark's run ids: FIRST_RUN_ID + n
EVENT = "workflow_run"
SECRET = "bench-webhook-secret"  # noqa: S105 (a benchmark's own secret)
WEBHOOK_PATH = "/api/webhooks/github"
VERIFY_PATH = "/_bench/ceiling/verify"
INSERT_PATH = "/_bench/ceiling/insert"
TARGET_SHARE_OF_CEILING = 0.8
TARGET_P99_MS = 50.0
GUNICORN_WORKERS = 2
WARM_UP_REQUESTS = 100


# --- What is sent --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    run_id: int


def payload_parts() -> list[bytes]:
    """The example body split where its run id stands: a body is `str(run_id).join(parts)`."""
    raw = FIXTURE.read_bytes()
    payload = json.loads(raw)
    run = payload["workflow_run"]
    if run["id"] != FIXTURE_RUN_ID or run.get("run_attempt") != 1:
        raise SystemExit(f"{FIXTURE}: expected workflow_run.id {FIXTURE_RUN_ID}, run_attempt 1")
    return raw.split(str(FIXTURE_RUN_ID).encode())


def plan(requests: int, redelivery_share: float, seed: int) -> tuple[list[Delivery], list[int]]:
    """The unique deliveries, and the order of the requests as indices into them: a
    redelivery is a second occurrence of an index, always after the first."""
    redeliveries = round(requests * redelivery_share)
    unique = requests - redeliveries
    if unique < 1 or redeliveries > unique:
        raise SystemExit(f"--redeliveries {redelivery_share} does not fit {requests} requests")
    chooser = random.Random(seed)
    deliveries = [
        Delivery(str(uuid.UUID(int=chooser.getrandbits(128), version=4)), FIRST_RUN_ID + n)
        for n in range(unique)
    ]
    # Each original at a random place in [0, 1); its redelivery somewhere after it.
    places = [(chooser.random(), n) for n in range(unique)]
    for n in chooser.sample(range(unique), redeliveries):
        first = places[n][0]
        places.append((first + (1.0 - first) * chooser.random(), n))
    places.sort()
    return deliveries, [n for _, n in places]


# --- The load generator (child processes: no Django) -------------------------------------


@dataclass
class ClientWork:
    host: str
    port: int
    path: str
    secret: str
    parts: list[bytes]
    deliveries: list[tuple[str, int]]  # (delivery id, run id) in the order to send
    connections: int


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)  # seconds, per answered request
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    started: float = 0.0  # time.monotonic(): one clock for every process on the machine
    finished: float = 0.0
    cpu_seconds: float = 0.0


def signed_requests(work: ClientWork) -> list[list[bytes]]:
    """Every request as the pieces to send (head, then the body around its run id)."""
    key = work.secret.encode()
    requests = []
    for delivery_id, run_id in work.deliveries:
        run = str(run_id).encode()
        body = [work.parts[0]]
        for part in work.parts[1:]:
            body += [run, part]
        mac = hmac.new(key, digestmod=hashlib.sha256)
        for piece in body:
            mac.update(piece)
        head = (
            f"POST {work.path} HTTP/1.1\r\n"
            f"Host: {work.host}:{work.port}\r\n"
            "User-Agent: GitHub-Hookshot/bench\r\n"
            "Accept: */*\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {sum(len(piece) for piece in body)}\r\n"
            f"X-GitHub-Event: {EVENT}\r\n"
            f"X-GitHub-Delivery: {delivery_id}\r\n"
            f"X-GitHub-Hook-ID: 1\r\n"
            f"X-Hub-Signature-256: sha256={mac.hexdigest()}\r\n"
            "\r\n"
        ).encode()
        requests.append([head, *body])
    return requests


class Exchange(asyncio.Protocol):
    """One request on a new connection; `done` gets the response's status code once
    the whole response (its Content-Length) is in."""

    def __init__(self, request: bytes, done: asyncio.Future[int]) -> None:
        self.request = request
        self.done = done
        self.buffer = bytearray()
        self.status = 0
        self.expected = -1  # bytes of the whole response, once its head is read
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.expected < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            self.status = int(head[0].split(" ", 2)[1])
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.expected = end + 4 + length
        if len(self.buffer) >= self.expected and not self.done.done():
            self.done.set_result(self.status)
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed before the whole response"))


async def drive(work: ClientWork, requests: list[list[bytes]], result: ClientResult) -> None:
    loop = asyncio.get_running_loop()
    pending = iter(requests)  # shared by the connections: each takes the next one

    async def connection() -> None:
        for pieces in pending:
            started = time.perf_counter()
            done: asyncio.Future[int] = loop.create_future()
            try:
                await loop.create_connection(
                    functools.partial(Exchange, b"".join(pieces), done), work.host, work.port
                )
                status = await done
            except (OSError, ValueError) as error:
                result.errors[type(error).__name__] += 1
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1

    await asyncio.gather(*(connection() for _ in range(work.connections)))


def client_process(work: ClientWork, ready: Any, start: Any, results: Any) -> None:
    """A load generator process: sign everything, wait for the start, send, report."""
    requests = signed_requests(work)
    result = ClientResult()
    ready.put(os.getpid())
    start.wait()
    cpu_started = time.process_time()
    result.started = time.monotonic()
    asyncio.run(drive(work, requests, result))
    result.finished = time.monotonic()
    result.cpu_seconds = time.process_time() - cpu_started
    results.put(result)


@dataclass
class LoadResult:
    label: str
    requests: int
    seconds: float
    latencies: list[float]  # sorted, seconds
    statuses: Counter[int]
    errors: Counter[str]
    client_cpu: float
    cpu: dict[str, float] = field(default_factory=dict)  # the servers' CPU seconds

    @property
    def accepted(self) -> int:
        return self.statuses[202]

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float:
        if not self.latencies:
            return float("nan")
        rank = min(len(self.latencies) - 1, max(0, round(share * len(self.latencies)) - 1))
        return self.latencies[rank] * 1000


def run_load(
    label: str,
    port: int,
    path: str,
    parts: list[bytes],
    deliveries: list[Delivery],
    order: list[int],
    arguments: argparse.Namespace,
) -> LoadResult:
    """Send the requests of `order` from the client processes; all start together."""
    count = arguments.client_processes
    context = multiprocessing.get_context("spawn")
    ready, results, start = context.Queue(), context.Queue(), context.Event()
    # A redelivery goes from the process that sent its original, so it follows it.
    shares: list[list[tuple[str, int]]] = [[] for _ in range(count)]
    for n in order:
        shares[n % count].append((deliveries[n].delivery_id, deliveries[n].run_id))
    processes = []
    for number, share in enumerate(shares):
        connections = arguments.connections // count + (
            1 if number < arguments.connections % count else 0
        )
        work = ClientWork("127.0.0.1", port, path, SECRET, parts, share, connections)
        process = context.Process(target=client_process, args=(work, ready, start, results))
        process.start()
        processes.append(process)
    try:
        for _ in processes:
            ready.get(timeout=300)
        start.set()
        timeout = 120 + len(order) / 20  # a hung server fails the run, not the machine
        collected: list[ClientResult] = [results.get(timeout=timeout) for _ in processes]
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
    latencies = sorted(latency for result in collected for latency in result.latencies)
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for result in collected:
        statuses.update(result.statuses)
        errors.update(result.errors)
    return LoadResult(
        label,
        len(order),
        max(r.finished for r in collected) - min(r.started for r in collected),
        latencies,
        statuses,
        errors,
        sum(r.cpu_seconds for r in collected),
    )


# --- The servers -----------------------------------------------------------------------------


class Service:
    """A server process in its own process group, logging to a file; `stop` ends the group."""

    def __init__(self, name: str, command: list[str], environment: dict[str, str], log: Path):
        self.name = name
        self.command = command
        self.environment = environment
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one
            )

    def check_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} is not running; the end of its log:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        group = self.process.pid  # the group's id is its leader's pid
        # The leader first: gunicorn's arbiter and django-q2's cluster stop their own
        # children in order; anything of the group left after `timeout` is killed.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        else:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _group_alive(group) and time.monotonic() < deadline:
            self.process.poll()  # reap the leader, or its pid stays in the group
            time.sleep(0.2)
        if _group_alive(group):
            print(f"  {self.name} did not stop in {timeout:.0f} s: killed", flush=True)
            _signal_group(group, signal.SIGKILL)
        self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        return 0.0 if self.process is None else group_cpu_seconds(self.process.pid)


def _signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _cpu_of(fields: list[str], children: bool) -> float:
    # utime, stime, then cutime, cstime (waited-for children that have exited)
    used = int(fields[11]) + int(fields[12])
    if children:
        used += int(fields[13]) + int(fields[14])
    return used / _TICKS


def group_cpu_seconds(group: int) -> float:
    """CPU time of a process group's live processes (and of their reaped children)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _process_stat(entry.name)
            if fields is not None and int(fields[2]) == group:
                total += _cpu_of(fields, children=True)
    return total


class BackendMeter:
    """CPU time of this database's PostgreSQL backends (the server runs on this machine,
    its processes are in /proc, titled "postgres: ... <database> ...").

    A backend can end within a phase (a worker closing its connection after a task),
    taking its CPU time with it, so a thread reads them every `every` seconds and
    keeps each one's last reading.
    """

    def __init__(self, database: str, every: float = 0.5) -> None:
        self.marker = f" {database} ".encode()
        self.every = every
        self.before = self._read()
        self.last = dict(self.before)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _read(self) -> dict[int, float]:
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"postgres: ") and self.marker in title:
                fields = _process_stat(entry.name)
                if fields is not None:
                    found[int(entry.name)] = _cpu_of(fields, children=False)
        return found

    def _watch(self) -> None:
        while not self.stopping.wait(self.every):
            self.last.update(self._read())

    def read(self) -> float:
        self.stopping.set()
        self.thread.join()
        self.last.update(self._read())
        return sum(seconds - self.before.get(pid, 0.0) for pid, seconds in self.last.items())


class CpuMeter:
    """CPU seconds spent by the servers between `__init__` and `read`."""

    def __init__(self, services: dict[str, Service], database: str) -> None:
        self.services = services
        self.before = {name: service.cpu_seconds() for name, service in services.items()}
        self.backends = BackendMeter(database)

    def read(self) -> dict[str, float]:
        used = {
            name: service.cpu_seconds() - self.before[name]
            for name, service in self.services.items()
        }
        used["PostgreSQL"] = self.backends.read()
        return used


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(service: Service, ready: Callable[[], bool], what: str, timeout: float) -> None:
    """Until `ready()`, while `service` runs; after `timeout` an error that it did not `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.check_running()
        if ready():
            return
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} did not {what} in {timeout:.0f} s:\n{service.tail()}")


def wait_for_http(service: Service, port: int, timeout: float = 90.0) -> None:
    """Until gunicorn answers (GET on a POST-only view: 405) from a booted worker."""

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(
                    f"GET {VERIFY_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                )
                return connection.recv(64).startswith(b"HTTP/1.1 405")
        except OSError:
            return False

    wait_until(service, answers, "answer", timeout)


def wait_for_log(service: Service, text: str, timeout: float = 90.0) -> None:
    def logged() -> bool:
        return text in service.log_path.read_text(errors="replace")

    wait_until(service, logged, f"log {text!r}", timeout)


def database_name(arguments: argparse.Namespace) -> str:
    return arguments.postgres_url.rpartition("/")[2]


def hub_environment(arguments: argparse.Namespace) -> dict[str, str]:
    """What every hub process gets: production settings on the benchmark's database."""
    from ingestion.encryption import generate_key

    return {
        "DATABASE_URL": arguments.postgres_url,
        "REDIS_URL": arguments.redis_url,
        "DEBUG": "false",
        "SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "HUB_ENCRYPTION_KEY": generate_key(),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "INGEST_CRITICAL_WORKERS": "1",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
    }


def child_environment(environment: dict[str, str], **extra: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        # Left at their defaults (CONN_MAX_AGE 60), whatever this shell has.
        if name not in ("CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE", "Q_CLUSTER_NAME")
    }
    return {**inherited, **environment, **extra}


def gunicorn_service(
    environment: dict[str, str], port: int, folder: Path, profile_folder: Path | None
) -> Service:
    app = "config.wsgi"
    extra = {"DJANGO_SETTINGS_MODULE": "benchmarks.webhook_settings"}
    if profile_folder is not None:
        app = "benchmarks.webhook_profile:application"
        extra["HUB_BENCH_PROFILE"] = str(profile_folder)
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        app,
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        # No access log (gunicorn's default, said explicitly); errors to the log file.
        "--error-logfile",
        "-",
    ]
    return Service("gunicorn", command, child_environment(environment, **extra), folder / "web.log")


def cluster_service(environment: dict[str, str], folder: Path) -> Service:
    command = [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "qcluster"]
    extra = {"Q_CLUSTER_NAME": "critical", "DJANGO_SETTINGS_MODULE": "config.settings"}
    return Service(
        "critical cluster", command, child_environment(environment, **extra), folder / "q.log"
    )


# --- The hub's side: rows, drain ---------------------------------------------------------------


def waiting_deliveries() -> int:
    from ingestion.choices import DeliveryStatus
    from ingestion.models import WebhookDelivery

    return WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.PROCESSING]
    ).count()


def processed_deliveries() -> int:
    from ingestion.choices import DeliveryStatus
    from ingestion.models import WebhookDelivery

    return WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count()


def wait_for_drain(cluster: Service, timeout: float) -> float | None:
    """Seconds until no delivery is pending or processing; None after `timeout`."""
    started = time.monotonic()
    reported = started
    while True:
        waiting = waiting_deliveries()
        elapsed = time.monotonic() - started
        if not waiting:
            return elapsed
        if elapsed > timeout:
            return None
        cluster.check_running()
        if time.monotonic() - reported >= 10:
            print(f"    ... {waiting:,} deliveries still waiting after {elapsed:.0f} s", flush=True)
            reported = time.monotonic()
        time.sleep(0.25)


@dataclass
class RowCounts:
    unique_sent: int
    deliveries: int = 0
    delivery_statuses: dict[str, int] = field(default_factory=dict)
    deliveries_unexpected: int = 0  # stored ids the benchmark never sent, or missing ones
    builds: int = 0
    builds_unexpected: int = 0  # run ids not sent, missing, or another attempt than 1
    jobs: dict[str, int] = field(default_factory=dict)
    # Processing batches: each claimed batch loads its builds as one run of the stream.
    build_runs: int = 0
    build_records: int = 0

    @property
    def not_processed(self) -> int:
        return self.deliveries - self.delivery_statuses.get("processed", 0)

    @property
    def exact(self) -> bool:
        return (
            self.deliveries == self.unique_sent
            and self.builds == self.unique_sent
            and self.not_processed == 0
            and self.deliveries_unexpected == 0
            and self.builds_unexpected == 0
        )


def count_rows(deliveries: list[Delivery]) -> RowCounts:
    from django.db.models import Count, Sum

    from ingestion.choices import JobKind
    from ingestion.models import IngestionJob, SyncRun, WebhookDelivery
    from tracking.models import Build

    counts = RowCounts(len(deliveries))
    counts.delivery_statuses = dict(
        WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    counts.deliveries = sum(counts.delivery_statuses.values())
    stored_ids = set(WebhookDelivery.objects.values_list("delivery_id", flat=True))
    counts.deliveries_unexpected = len(stored_ids ^ {d.delivery_id for d in deliveries})
    counts.builds = Build.objects.count()
    keys = set(Build.objects.values_list("run_id", "run_attempt"))
    counts.builds_unexpected = len(keys ^ {(d.run_id, 1) for d in deliveries})
    runs = SyncRun.objects.filter(source="github_actions", entity="builds")
    counts.build_runs = runs.count()
    counts.build_records = runs.aggregate(n=Sum("fetched"))["n"] or 0
    counts.jobs = dict(
        IngestionJob.objects.filter(kind=JobKind.WEBHOOK)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return counts


def create_ceiling_table() -> None:
    from django.db import connection

    from benchmarks.webhook_ceiling import CEILING_TABLE, CREATE_CEILING_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CEILING_TABLE}")
        cursor.execute(CREATE_CEILING_TABLE)


def ceiling_rows() -> int:
    from django.db import connection

    from benchmarks.webhook_ceiling import CEILING_TABLE

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {CEILING_TABLE}")
        return cursor.fetchone()[0]


def flush_redis(url: str) -> None:
    """The benchmark's own Redis database: no flag or task left from an earlier run."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


# --- Reporting -------------------------------------------------------------------------------


def print_load(result: LoadResult) -> None:
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(result.statuses.items()))
    errors = ", ".join(f"{name}: {n:,}" for name, n in sorted(result.errors.items())) or "none"
    print(
        f"  {result.label}: {result.requests:,} requests in {result.seconds:.1f} s, "
        f"{result.accepted:,} answered 202 = {result.rate:,.0f} accepted/s; latency p50 "
        f"{result.percentile_ms(0.50):.1f} ms, p99 {result.percentile_ms(0.99):.1f} ms, "
        f"max {result.percentile_ms(1.0):.1f} ms",
        flush=True,
    )
    per_request = {name: 1000 * seconds / result.requests for name, seconds in result.cpu.items()}
    cpu = ", ".join(
        f"{name} {result.cpu[name]:.1f} s ({per_request[name]:.2f} ms/request)"
        for name in result.cpu
    )
    print(f"    statuses {statuses}; client errors {errors}", flush=True)
    print(
        f"    CPU: client {result.client_cpu:.1f} s "
        f"({1000 * result.client_cpu / result.requests:.2f} ms/request), {cpu}",
        flush=True,
    )


def print_rows(counts: RowCounts) -> None:
    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(counts.delivery_statuses.items()))
    jobs = ", ".join(f"{s} {n:,}" for s, n in sorted(counts.jobs.items())) or "none"
    print(
        f"  rows: Build {counts.builds:,} for {counts.unique_sent:,} unique deliveries sent "
        f"({counts.builds_unexpected:,} run ids missing, extra or not attempt 1); "
        f"WebhookDelivery {counts.deliveries:,} ({statuses}; "
        f"{counts.deliveries_unexpected:,} ids missing or extra); not processed "
        f"{counts.not_processed:,}; webhook jobs: {jobs}",
        flush=True,
    )
    per_run = counts.build_records / counts.build_runs if counts.build_runs else 0.0
    print(
        f"  processing batches: {counts.build_runs:,} runs of github_actions/builds for "
        f"{counts.build_records:,} build records ({per_run:,.1f} a batch)",
        flush=True,
    )


def print_stats(stats: pstats.Stats, title: str, lines: int = 40) -> None:
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        stats.stream = buffer  # type: ignore[attr-defined]
        stats.strip_dirs().sort_stats(order).print_stats(lines)
        print(f"  --- profile of {title} (CPU time), by {order} ---")
        print("\n".join(f"    {line}" for line in buffer.getvalue().splitlines()), flush=True)


def print_request_profiles(folder: Path) -> None:
    for name, title in (
        ("ceiling", "the INSERT ceiling's requests"),
        ("hub", "the hub's requests"),
    ):
        files = [str(path) for path in sorted(folder.glob(f"{name}-*.prof")) if path.stat().st_size]
        if files:
            print_stats(pstats.Stats(*files, stream=io.StringIO()), f"{title} (both workers)")
        else:
            print(f"  (no profile of {title} was saved)", flush=True)


def process_here_profiled() -> None:
    """`--profile`: the processing job's work, run in this process under cProfile."""
    from ingestion.webhooks import process_pending

    profiler = cProfile.Profile(time.process_time)
    started, cpu_started = time.monotonic(), time.process_time()
    profiler.enable()
    result = process_pending()
    profiler.disable()
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu_started
    print(
        f"  processing in this process: {result.processed:,} processed, {result.ignored:,} "
        f"ignored, {result.failed:,} failed, {result.waiting:,} waiting, in {seconds:.1f} s "
        f"({result.processed / seconds:,.0f} deliveries/s), {cpu:.1f} s CPU here "
        f"({1000 * cpu / max(result.processed, 1):.2f} ms per delivery, profiler included)",
        flush=True,
    )
    print_stats(pstats.Stats(profiler, stream=io.StringIO()), "the processing")


def print_drain(
    drained: float | None, since: str, total: float, unique: int, cpu: dict[str, float]
) -> None:
    if drained is None:
        print("  drain: MISS, deliveries still waiting at the timeout", flush=True)
        return
    print(
        f"  drain: {drained:.1f} s after the load ended; all {unique:,} processed "
        f"{total:.1f} s after {since} ({unique / max(total, 0.001):,.0f} deliveries/s); CPU "
        "meanwhile: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items()),
        flush=True,
    )


def check_targets(results: dict[str, LoadResult], counts: RowCounts) -> None:
    hub, ceiling = results[WEBHOOK_PATH], results[INSERT_PATH]
    p99 = hub.percentile_ms(0.99)
    target_rate = TARGET_SHARE_OF_CEILING * ceiling.rate
    print("  targets:", flush=True)
    print(
        f"    {verdict(hub.rate >= target_rate)} accepted/s: {hub.rate:,.0f} "
        f"= {hub.rate / ceiling.rate:.2f} x the INSERT ceiling {ceiling.rate:,.0f}/s "
        f"(target >= {TARGET_SHARE_OF_CEILING} x = {target_rate:,.0f}/s; the ceiling without "
        f"INSERT: {results[VERIFY_PATH].rate:,.0f}/s)",
        flush=True,
    )
    print(
        f"    {verdict(p99 <= TARGET_P99_MS)} p99 latency: {p99:.1f} ms (target <= "
        f"{TARGET_P99_MS:.0f} ms; the INSERT ceiling's p99: {ceiling.percentile_ms(0.99):.1f} ms)",
        flush=True,
    )
    print(
        f"    {verdict(counts.exact)} one row per unique delivery: Build {counts.builds:,}, "
        f"WebhookDelivery {counts.deliveries:,}, not processed {counts.not_processed:,} "
        f"(target {counts.unique_sent:,}, {counts.unique_sent:,}, 0)",
        flush=True,
    )


# --- The run ---------------------------------------------------------------------------------


def measure(
    label: str,
    path: str,
    port: int,
    services: dict[str, Service],
    parts: list[bytes],
    deliveries: list[Delivery],
    order: list[int],
    arguments: argparse.Namespace,
) -> LoadResult:
    meter = CpuMeter(services, database_name(arguments))
    result = run_load(label, port, path, parts, deliveries, order, arguments)
    result.cpu = meter.read()
    print_load(result)
    return result


def run(arguments: argparse.Namespace) -> int:
    from benchmarks.django_setup import prepare_database, setup_django

    load = os.getloadavg()
    print(
        f"webhooks benchmark: {arguments.requests:,} requests ({arguments.redeliveries:.0%} "
        f"redeliveries), {arguments.connections} connections from "
        f"{arguments.client_processes} client processes, gunicorn {GUNICORN_WORKERS} sync "
        f"workers, PostgreSQL {arguments.postgres_url}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores",
        flush=True,
    )
    if load[0] > 2:
        print("  (the machine is busy: the figures will be low)", flush=True)
    parts = payload_parts()
    deliveries, order = plan(arguments.requests, arguments.redeliveries, arguments.seed)
    print(
        f"  {len(deliveries):,} unique workflow_run deliveries + "
        f"{len(order) - len(deliveries):,} redeliveries, body "
        f"{len(str(FIRST_RUN_ID).encode().join(parts)):,} bytes",
        flush=True,
    )
    environment = hub_environment(arguments)
    prepare_database("postgres", arguments.postgres_url, "")
    setup_django(**environment)
    from ingestion.streams import UnknownStream, get_stream

    try:
        get_stream("github_actions", "builds")
    except UnknownStream:
        print("  the stream github_actions/builds is not registered: nothing would load Builds")
        return 2
    create_ceiling_table()
    flush_redis(arguments.redis_url)
    results: dict[str, LoadResult] = {}
    with tempfile.TemporaryDirectory(prefix="hub-webhooks-bench-") as temporary:
        folder = Path(temporary)
        profile_folder = None
        if arguments.profile:
            profile_folder = folder / "profile"
            profile_folder.mkdir()
        port = free_port()
        web = gunicorn_service(environment, port, folder, profile_folder)
        cluster = cluster_service(environment, folder)
        services = {"gunicorn workers": web, "cluster": cluster}
        previous_handler = signal.signal(signal.SIGTERM, _terminate)
        try:
            web.start()
            if not (arguments.cluster_after_load or arguments.profile):
                cluster.start()
                wait_for_log(cluster, "running.")
            wait_for_http(web, port)
            print(f"  gunicorn on 127.0.0.1:{port} is up", flush=True)
            warm_up = [Delivery(f"warm-up-{n}", n) for n in range(WARM_UP_REQUESTS)]
            warm_order = list(range(WARM_UP_REQUESTS))
            for path in (VERIFY_PATH, INSERT_PATH):
                run_load("warm-up", port, path, parts, warm_up, warm_order, arguments)
            create_ceiling_table()  # without the warm-up's rows
            for label, path in (
                ("ceiling, verify only", VERIFY_PATH),
                ("ceiling, verify + INSERT", INSERT_PATH),
            ):
                results[path] = measure(
                    label, path, port, services, parts, deliveries, order, arguments
                )
            stored = ceiling_rows()
            print(f"    ceiling table: {stored:,} rows for {len(order):,} requests", flush=True)
            results[WEBHOOK_PATH] = measure(
                "hub, POST /api/webhooks/github",
                WEBHOOK_PATH,
                port,
                services,
                parts,
                deliveries,
                order,
                arguments,
            )
            processed = processed_deliveries()
            print(f"    processed while the load ran: {processed:,}", flush=True)
            if arguments.profile:
                process_here_profiled()
            else:
                drain(arguments, cluster, services, results[WEBHOOK_PATH], len(deliveries))
        except Exception:
            for service in services.values():
                print(f"  --- the end of the {service.name}'s log ---\n{service.tail()}")
            raise
        finally:
            for service in services.values():
                service.stop()
            signal.signal(signal.SIGTERM, previous_handler)
        if profile_folder is not None:
            print_request_profiles(profile_folder)
    counts = count_rows(deliveries)
    print_rows(counts)
    if waiting_deliveries():
        print("  MISS: deliveries are still waiting", flush=True)
    check_targets(results, counts)
    unanswered = sum(r.requests - r.accepted for r in results.values())
    if unanswered:
        print(f"  {unanswered:,} requests were not answered 202", flush=True)
    print(f"  load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0 if counts.exact and not unanswered else 1


def drain(
    arguments: argparse.Namespace,
    cluster: Service,
    services: dict[str, Service],
    load: LoadResult,
    unique: int,
) -> None:
    """Wait for the cluster to process every delivery (starting it first with
    `--cluster-after-load`) and print how long it took."""
    if arguments.cluster_after_load:
        cluster.start()
        wait_for_log(cluster, "running.")
        print("  the critical cluster is up now", flush=True)
    meter = CpuMeter(services, database_name(arguments))
    drained = wait_for_drain(cluster, arguments.drain_timeout)
    cpu = meter.read()
    if arguments.cluster_after_load:
        print_drain(drained, "the cluster started", drained or 0.0, unique, cpu)
    else:
        print_drain(drained, "the first request", load.seconds + (drained or 0.0), unique, cpu)


def _terminate(number: int, frame: Any) -> None:
    """SIGTERM ends the run through its `finally`: the servers are stopped."""
    raise SystemExit(128 + number)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=50_000, help="per phase, redeliveries in")
    parser.add_argument(
        "--redeliveries", type=float, default=0.2, help="share of the requests that redeliver"
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent, in all")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--postgres-url", default="postgres://postgres@127.0.0.1:5432/hub_bench_webhooks"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cluster-after-load",
        action="store_true",
        help="start the worker cluster only after the load: the receiving path alone, then "
        "the processing alone (deliveries wait for a worker, as when it is down)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile (CPU time) the hub's and the INSERT ceiling's requests in the gunicorn "
        "workers, and the processing, run in this process after the load instead of in the "
        "cluster (slows everything down: for finding where the time goes, not for figures)",
    )
    arguments = parser.parse_args(argv)
    if arguments.connections < arguments.client_processes or arguments.client_processes < 1:
        parser.error("--connections must be at least --client-processes (at least 1)")
    return arguments


def main() -> None:
    sys.exit(run(parse_arguments()))


if __name__ == "__main__":
    main()
