"""Bugs CSV import: rows/s and peak memory of the hub's `import_csv` and of django-import-export.

Imports a 100,000-row and a 1,000,000-row bugs CSV with `manage.py import_csv`, and the
same 100,000 rows with django-import-export.

    .venv/bin/python benchmarks/csv_import.py                       # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/csv_import.py --import-export-rows 0   # import-export: all rows
    .venv/bin/python benchmarks/csv_import.py --database sqlite --rows 20000 --skip-million
    .venv/bin/python benchmarks/csv_import.py --database postgres --profile   # cProfile the hub

The files are generated once into benchmarks/output/ (git-ignored): every column filled
as a tracker export would fill it (title, description, severity, priority, status,
project by name, assignee and reporter by email, sla_hours, created_at, resolved_at for
the done ones, url, source, a unique external_id), over 50 projects and 200 people that
each scenario creates first in a fresh database.

Every import runs in a child process of its own, so its peak RSS is its own (the
maximum resident set `os.wait4` reports for that child). Rows/s are the importer's own
time (the command's summary line; import-export's `import_data` call), without Django's
start-up. Scenarios, each on a fresh database:

1. the hub, 100,000 rows (`manage.py import_csv bugs <file> --no-progress`), then the same
   file again (every row unchanged);
2. django-import-export 4.x on the same file: a plain `ModelResource` of Bug with
   `ForeignKeyWidget`s (project by name, people by email), rows matched by
   (source, external_id), every other option at its default. At ~100-350 rows/s it
   gets the first 10,000 rows unless `--import-export-rows 0` (the whole file);
3. the hub, 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import database_parser, machine_load, run_each_database, verdict  # noqa: E402
from benchmarks.django_setup import prepare_database  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "output"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/hub_bench_csv"
MILLION = 1_000_000
PROJECTS = 50
PEOPLE = 200
TARGET_POSTGRES_ROWS_PER_SECOND = 15_000
TARGET_TIMES_IMPORT_EXPORT = 10
TARGET_MILLION_PEAK_MB = 300
# django-import-export imports 100-350 rows/s here (a save() per row, with a diff of each):
# it gets the first rows of the file only, by default.
IMPORT_EXPORT_SLICE = 10_000
# Bump when the generated rows change, so an old file is not reused.
GENERATOR_VERSION = 1
HEADER = [
    "title",
    "description",
    "severity",
    "priority",
    "status",
    "project",
    "assignee",
    "reporter",
    "sla_hours",
    "created_at",
    "resolved_at",
    "url",
    "source",
    "external_id",
]

# --- the data ------------------------------------------------------------------------------

_PROJECT_FIRST_WORDS = [
    *("Payments", "Checkout", "Search", "Billing", "Mobile", "Identity", "Reporting"),
    *("Notifications", "Inventory", "Shipping"),
]
_PROJECT_SECOND_WORDS = ["API", "App", "Service", "Platform", "Portal"]
_FIRST_NAMES = [
    *("ada", "grace", "linus", "margaret", "alan", "barbara", "dennis", "frances", "ken"),
    *("radia", "edsger", "hedy", "john", "katherine", "donald", "annie", "tim", "sophie"),
    *("guido", "bjarne"),
]
_LAST_NAMES = [
    *("lovelace", "hopper", "torvalds", "hamilton", "turing", "liskov", "ritchie", "allen"),
    *("thompson", "perlman"),
]
_COMPONENTS = [
    *("Checkout page", "Login form", "Invoice PDF", "Search results", "Settings screen"),
    *("Order API", "Nightly export", "Notification email", "Dashboard chart", "Cart"),
    *("Password reset", "Profile page", "Admin list", "CSV export", "Webhook handler"),
    *("Mobile menu", "Payment retry", "Report builder"),
]
_PROBLEMS = [
    *("times out", "shows the wrong total", "crashes", "is blank", "returns a 500"),
    *("loads slowly", "ignores the time zone", "duplicates rows", "loses the selection"),
    *("rounds amounts wrongly", "shows untranslated text", "sends twice"),
]
_CONTEXTS = [
    *("for large carts", "on Safari", "after a deploy", "for German customers"),
    *("when offline", "at month end", "for archived projects", "with two tabs open"),
    *("on Android 14", "for new users", "under load", "after a password change"),
]
_SENTENCES = [
    "Reported by several customers through support.",
    "Started after the last release; the previous version was fine.",
    "Steps: open the page, wait ten seconds, click the button again.",
    "Logs show a timeout talking to the database.",
    "Happens about one time in five; no pattern found yet.",
    "A workaround exists: reload the page and try again.",
    "Stack trace attached in the old tracker.",
    "Affects only accounts created before 2024.",
    'The error message says "Something went wrong", which does not help.',
    "Seen in production and staging, not locally.",
]
_SEVERITIES = (["critical", "high", "medium", "low"], [5, 20, 50, 25])
_PRIORITIES = (["highest", "high", "medium", "low", "lowest"], [5, 20, 45, 20, 10])
_STATUSES = (["open", "in_progress", "resolved", "closed", "wont_fix"], [35, 20, 25, 15, 5])
_DONE = {"resolved", "closed", "wont_fix"}
_SLA_HOURS = ["8", "24", "48", "72", "168", "720"]
_FIRST_DAY = dt.datetime(2024, 1, 1)
_SPAN_SECONDS = 34 * 30 * 24 * 3600  # to late 2026


def project_names() -> list[str]:
    names = [
        f"{first} {second}" for first in _PROJECT_FIRST_WORDS for second in _PROJECT_SECOND_WORDS
    ]
    return names[:PROJECTS]


def people() -> list[tuple[str, str]]:
    """(name, email) of each person the bugs are assigned to and reported by."""
    return [
        (f"{first.title()} {last.title()}", f"{first}.{last}@example.com")
        for first in _FIRST_NAMES
        for last in _LAST_NAMES
    ][:PEOPLE]


def bug_row(number: int, rng: random.Random, projects: list[str], emails: list[str]) -> list[str]:
    status = rng.choices(*_STATUSES)[0]
    created = _FIRST_DAY + dt.timedelta(seconds=rng.randrange(_SPAN_SECONDS))
    resolved = ""
    if status in _DONE:
        resolved = (created + dt.timedelta(minutes=rng.randrange(30, 60 * 24 * 90))).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
    key = f"LEG-{number}"
    return [
        f"{rng.choice(_COMPONENTS)} {rng.choice(_PROBLEMS)} {rng.choice(_CONTEXTS)}",
        " ".join(rng.sample(_SENTENCES, rng.randint(1, 3))),
        rng.choices(*_SEVERITIES)[0],
        rng.choices(*_PRIORITIES)[0],
        status,
        rng.choice(projects),
        rng.choice(emails),
        rng.choice(emails),
        rng.choice(_SLA_HOURS),
        # "2026-10-01 09:15:00": a form both importers read without configuration
        # (import-export's default DateTimeWidget takes DATETIME_INPUT_FORMATS only).
        created.strftime("%Y-%m-%d %H:%M:%S"),
        resolved,
        f"https://tracker.example.com/browse/{key}",
        "csv",
        key,
    ]


def bugs_csv(rows: int) -> Path:
    """The generated file of `rows` bugs (made once, then reused)."""
    path = OUTPUT / f"bugs-{rows}-v{GENERATOR_VERSION}.csv"
    if path.exists():
        return path
    OUTPUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(rows)
    projects = project_names()
    emails = [email for _name, email in people()]
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for number in range(1, rows + 1):
            writer.writerow(bug_row(number, rng, projects, emails))
    partial.rename(path)
    size = path.stat().st_size / 1024 / 1024
    print(
        f"  generated {path.name}: {rows:,} rows, {size:,.0f} MiB in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return path


# --- the child processes -------------------------------------------------------------------


def seed() -> None:
    """(Child) Tables from the models, then the projects and people the bugs name."""
    from benchmarks.django_setup import setup_django

    setup_django()
    from tracking.models import Person, Project

    Project.objects.bulk_create(Project(name=name, source="csv") for name in project_names())
    Person.objects.bulk_create(Person(name=name, email=email) for name, email in people())


def run_import_export(path: Path, limit: int | None) -> None:
    """(Child) django-import-export 4.x with a plain ModelResource; prints its figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import tablib
    from import_export import fields, resources
    from import_export.widgets import ForeignKeyWidget

    from tracking.models import Bug, Person, Project

    class BugResource(resources.ModelResource):
        project = fields.Field("project", "project", ForeignKeyWidget(Project, field="name"))
        assignee = fields.Field("assignee", "assignee", ForeignKeyWidget(Person, field="email"))
        reporter = fields.Field("reporter", "reporter", ForeignKeyWidget(Person, field="email"))

        class Meta:
            model = Bug
            fields = tuple(HEADER)
            # The file's key; matching by `id` (the default) would need an id column.
            import_id_fields = ("source", "external_id")

    with path.open(encoding="utf-8", newline="") as file:
        # The header and the first `limit` rows (no cell of the generated files has a newline).
        text = "".join(islice(file, limit + 1 if limit is not None else None))
    started = time.perf_counter()
    dataset = tablib.Dataset().load(text, format="csv")
    result = BugResource().import_data(dataset)
    seconds = time.perf_counter() - started
    figures = {"rows": len(dataset), "seconds": seconds, "totals": dict(result.totals)}
    figures["errors"] = len(result.base_errors) + len(result.invalid_rows)
    figures["row_errors"] = sum(1 for _row in result.row_errors())
    print(json.dumps(figures))


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    rows: int
    seconds: float  # the importer's own time
    peak_mb: float  # the child's peak RSS
    wall_seconds: float  # the child process, start-up included
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_child(command: list[str], environment: dict[str, str]) -> tuple[str, float, float]:
    """(stdout, peak RSS in MiB, wall seconds) of `command`; stops the benchmark if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **environment}, stdout=out, stderr=err
        )
        # wait4, not getrusage(RUSAGE_CHILDREN): that is the maximum over every child
        # waited for so far, this one is this child's own.
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {child.returncode}:\n{stdout}\n{stderr}")
    return stdout, usage.ru_maxrss / 1024, wall  # ru_maxrss is in KiB on Linux


_SUMMARY = re.compile(
    r"([\d,]+) rows: ([\d,]+) created, ([\d,]+) updated, ([\d,]+) unchanged, "
    r"([\d,]+) rejected \(([\d.]+) s"
)


def hub_import(
    path: Path,
    label: str,
    expect: str,
    environment: dict[str, str],
    *,
    batch_size: int | None = None,
    profile: Path | None = None,
) -> Run:
    """`manage.py import_csv bugs <path> --no-progress` in a child; `expect` is the count
    ("created" or "unchanged") that must equal the rows."""
    command = [sys.executable, "manage.py", "import_csv", "bugs", str(path), "--no-progress"]
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    if profile is not None:
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    stdout, peak_mb, wall = run_child(command, environment)
    match = _SUMMARY.search(stdout)
    if match is None:
        raise SystemExit(f"No summary line in the output of {' '.join(command)}:\n{stdout}")
    rows, created, updated, unchanged, rejected = (
        int(group.replace(",", "")) for group in match.groups()[:5]
    )
    counts = {"created": created, "updated": updated, "unchanged": unchanged}
    if counts[expect] != rows or rejected:
        raise SystemExit(f"{label}: expected every row {expect}, got:\n{stdout}")
    return Run(label, rows, float(match[6]), peak_mb, wall, f"{rows:,} {expect}")


def import_export_import(path: Path, limit: int | None, environment: dict[str, str]) -> Run:
    command = [sys.executable, __file__, "--child", "import-export", "--file", str(path)]
    if limit is not None:
        command += ["--limit", str(limit)]
    stdout, peak_mb, wall = run_child(command, environment)
    figures = json.loads(stdout.strip().splitlines()[-1])
    if figures["errors"] or figures["row_errors"] or figures["totals"]["new"] != figures["rows"]:
        raise SystemExit(f"django-import-export did not create every row: {figures}")
    label = "django-import-export" + (f" ({limit:,}-row slice)" if limit else "")
    return Run(label, figures["rows"], figures["seconds"], peak_mb, wall, "all new")


def print_run(run: Run) -> None:
    print(
        f"  {run.label:<40} {run.rate:>9,.0f} rows/s  ({run.rows:,} rows in {run.seconds:6.1f} s;"
        f" peak RSS {run.peak_mb:5.0f} MiB; child wall {run.wall_seconds:5.1f} s; {run.detail})",
        flush=True,
    )


def print_profile(profile: Path, lines: int = 40) -> None:
    """The profile's first functions by cumulative and by own time (kept in `profile`)."""
    import io
    import pstats

    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        stats = pstats.Stats(str(profile), stream=buffer).strip_dirs().sort_stats(order)
        stats.print_stats(lines)
        print(f"    --- profile of the hub's first import, by {order} ({profile}) ---")
        print("\n".join(f"    {line}" for line in buffer.getvalue().splitlines()), flush=True)


def fresh_database(kind: str, postgres_url: str, folder: str) -> dict[str, str]:
    """An empty database with the tables, projects and people: the children's environment."""
    prepare_database(kind, postgres_url, folder)
    environment = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        # Error reports (none expected) go to the scenario's folder, not var/media.
        "MEDIA_ROOT": str(Path(folder) / "media"),
    }
    run_child([sys.executable, __file__, "--child", "seed"], environment)
    return environment


def run_one(arguments: argparse.Namespace) -> None:
    try:
        run_scenarios(arguments)
    finally:
        if arguments.database == "postgres":
            drop_database(arguments.postgres_url)


def drop_database(postgres_url: str) -> None:
    import psycopg

    server, _, name = postgres_url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_scenarios(arguments: argparse.Namespace) -> None:
    kind = arguments.database
    batches = f"batches of {arguments.batch_size:,}" if arguments.batch_size else "default batches"
    print(f"{kind}: bugs CSV import, {batches}, {machine_load()}", flush=True)
    file = bugs_csv(arguments.rows)
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as folder:
        environment = fresh_database(kind, arguments.postgres_url, folder)
        profile = OUTPUT / f"hub-import-{kind}.prof" if arguments.profile else None
        runs["hub"] = hub_import(
            file,
            "hub, first import",
            "created",
            environment,
            batch_size=arguments.batch_size,
            profile=profile,
        )
        print_run(runs["hub"])
        runs["again"] = hub_import(
            file, "hub, same file again", "unchanged", environment, batch_size=arguments.batch_size
        )
        print_run(runs["again"])
        if profile is not None:
            print_profile(profile)
    if not arguments.skip_import_export:
        with tempfile.TemporaryDirectory() as folder:
            environment = fresh_database(kind, arguments.postgres_url, folder)
            runs["import-export"] = import_export_import(
                file, arguments.import_export_rows or None, environment
            )
            print_run(runs["import-export"])
    if not arguments.skip_million:
        million = bugs_csv(MILLION)
        with tempfile.TemporaryDirectory() as folder:
            environment = fresh_database(kind, arguments.postgres_url, folder)
            runs["million"] = hub_import(
                million,
                "hub, 1,000,000 rows",
                "created",
                environment,
                batch_size=arguments.batch_size,
            )
            print_run(runs["million"])
    print_targets(kind, runs)


def print_targets(kind: str, runs: dict[str, Run]) -> None:
    if kind == "postgres":
        rate = runs["hub"].rate
        print(
            f"  {verdict(rate >= TARGET_POSTGRES_ROWS_PER_SECOND)} hub first import "
            f"{rate:,.0f} rows/s (target ≥ {TARGET_POSTGRES_ROWS_PER_SECOND:,} on PostgreSQL)"
        )
    if "import-export" in runs:
        times = runs["hub"].rate / runs["import-export"].rate
        print(
            f"  {verdict(times >= TARGET_TIMES_IMPORT_EXPORT)} hub / django-import-export "
            f"= {times:,.1f} times (target ≥ {TARGET_TIMES_IMPORT_EXPORT} times)"
        )
    if "million" in runs:
        peak = runs["million"].peak_mb
        print(
            f"  {verdict(peak < TARGET_MILLION_PEAK_MB)} peak RSS for a million rows "
            f"{peak:,.0f} MiB (target < {TARGET_MILLION_PEAK_MB} MB)",
            flush=True,
        )


def main() -> None:
    parser = database_parser(__doc__.split("\n")[0], POSTGRES_URL)
    parser.add_argument("--rows", type=int, default=100_000, help="Rows of the compared file.")
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument("--skip-import-export", action="store_true")
    parser.add_argument(
        "--import-export-rows",
        type=int,
        default=IMPORT_EXPORT_SLICE,
        help="Give django-import-export only the first N rows of the file, 0 for all "
        f"(default {IMPORT_EXPORT_SLICE:,}: at 100-350 rows/s all 100,000 take 5-17 minutes); "
        "the figure compared is rows/s.",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="The hub's batch size (IMPORT_BATCH_SIZE)."
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the hub's first import.")
    parser.add_argument("--child", choices=["seed", "import-export"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child == "seed":
        seed()
    elif arguments.child == "import-export":
        run_import_export(arguments.file, arguments.limit)
    else:
        run_each_database(__file__, arguments, run_one)


if __name__ == "__main__":
    main()
