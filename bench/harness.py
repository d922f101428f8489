"""The bench's environment and processes: Django set up in this process against the bench's own PostgreSQL
database and Redis logical databases, and real gunicorn / Celery worker subprocesses started against them.

The bench owns its data: it empties the tables of its database and FLUSHDBs the Redis databases N (cache)
and N+1 (broker) of REDIS_URL. It refuses a DATABASE_URL whose database name lacks "bench", and then uses
`<name>_bench` instead, so a developer's database is never emptied by mistake; `make bench` gives it a Redis of
its own unless REDIS_URL is set (scripts/with_services.py --own-redis), so a Redis on 6379 is never flushed either.
"""

import concurrent.futures
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "backend"
PY = sys.executable


class BenchError(RuntimeError):
    pass


# --- environment ---------------------------------------------------------------------------------------------


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise BenchError(f"the bench needs PostgreSQL: DATABASE_URL is {parts.scheme!r}")
    name = parts.path.strip("/") or "recipe_planner"
    if "bench" not in name:
        name = f"{name}_bench"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def configure_environment() -> None:
    """Environment for this process and every child: production settings (DEBUG off), plain HTTP on loopback."""
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        raise BenchError("set DATABASE_URL (PostgreSQL) and REDIS_URL; the bench uses its own database and Redis dbs")
    os.environ["DATABASE_URL"] = bench_database_url(os.environ["DATABASE_URL"])
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "0"  # DEBUG keeps every query in memory: it would slow both sides
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(40))
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        os.environ[name] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOGIN_RATE_LIMIT", "1000/m")
    for path in (str(REPO), str(BACKEND)):
        if path not in sys.path:
            sys.path.insert(0, path)


def create_database() -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.strip("/")
    admin = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    """Configure, create the database if needed, django.setup() and migrate."""
    configure_environment()
    create_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def child_env(**overrides) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(BACKEND), str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in overrides.items()})
    return env


# --- state reset -----------------------------------------------------------------------------------------------


def redis():
    """The raw client of the cache's logical database (db N)."""
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def admin_redis():
    """A raw client of the cache's db for the bench's bulk work (filling 1M keys, FLUSHDB): a long socket
    timeout, unlike the app's client (REDIS_SOCKET_TIMEOUT, 0.5 s), which such commands would exceed."""
    import redis as redis_py
    from django.conf import settings

    return redis_py.Redis.from_url(settings.CACHES["default"]["LOCATION"], socket_timeout=300)


def broker_redis():
    import redis as redis_py
    from django.conf import settings

    return redis_py.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=300)


def flush_redis() -> None:
    admin_redis().flushdb()
    broker_redis().flushdb()


def data_tables() -> list[str]:
    from django.apps import apps

    labels = ("planner", "events", "auth", "sessions")
    keep = {"auth_permission", "auth_group", "auth_group_permissions"}  # created by migrate, not data
    return [
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_label in labels and m._meta.db_table not in keep
    ]


def reset_state() -> None:
    """Empty every data table (TRUNCATE fires no row triggers, so no events) and both Redis dbs."""
    from django.db import connection

    tables = ", ".join(f'"{t}"' for t in data_tables())
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    flush_redis()


def captured_tables() -> list[str]:
    """Tables that carry user (non-internal) triggers: the event capture's."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND n.nspname = current_schema() ORDER BY 1"
        )
        return [r[0] for r in cur.fetchall()]


def set_capture_triggers(enabled: bool) -> list[str]:
    """ALTER TABLE ... ENABLE/DISABLE TRIGGER USER on every captured table of the bench database."""
    from django.db import connection

    tables = captured_tables()
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f'ALTER TABLE "{table}" {"ENABLE" if enabled else "DISABLE"} TRIGGER USER')
    return tables


@contextlib.contextmanager
def no_events():
    """Writes on this process's connection fire no triggers (fast seeding): session_replication_role=replica."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute("SET session_replication_role = DEFAULT")


def forget_events() -> None:
    """Drop outbox rows and queued tasks left by set-up writes, so a measurement starts clean."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE events_outbox RESTART IDENTITY")
    broker_redis().flushdb()


def flush_outbox() -> int:
    """Send every unsent outbox row now. One relay flush delivers a bounded number of rows (its claim size
    times its rounds); a burst larger than that waits for the next flush or the sweep, so call it again."""
    from eventcache.models import OutboxEvent
    from eventcache.relay import publish

    sent = 0
    while OutboxEvent.objects.filter(sent_at__isnull=True, processed_at__isnull=True).exists():
        delivered = publish.flush()
        if not delivered:
            raise BenchError("the relay delivered nothing while unsent outbox rows remain (is Redis up?)")
        sent += delivered
    return sent


# --- processes ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A subprocess in its own process group, its output in a log file, stopped by its own pid."""

    def __init__(self, name: str, cmd: list[str], env: dict, workdir: Path):
        self.name = name
        self.cmd = cmd
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop(); lives as long as the process)
        self.popen = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


ACCESS_FORMAT = "%({x-bench-id}i)s %(s)s %(D)s"  # request tag, status, server time in microseconds


class WebServer(Proc):
    """gunicorn serving config.wsgi with N workers; its access log gives each request's server-side time."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        workers: int = 2,
        threads: int = 1,
        app: str = "config.wsgi:application",
        **env_overrides,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / f"{name}.access.log"
        cmd = [
            PY, "-m", "gunicorn", app,
            "--chdir", str(BACKEND),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers),
            "--access-logfile", str(self.access_log),
            "--access-logformat", ACCESS_FORMAT,
            "--log-level", "warning",
        ]  # fmt: skip
        if threads > 1:
            cmd += ["--threads", str(threads)]
        super().__init__(name, cmd, child_env(**env_overrides), workdir)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers (a 503 names what is down; the bench checks services itself)
            except OSError:
                time.sleep(0.2)
        raise BenchError(f"{self.name} did not answer on {self.url} within {timeout:.0f} s:\n{self.tail()}")

    def server_times_ms(self) -> dict[str, float]:
        """Request tag -> server-side time (ms), from gunicorn's access log."""
        times = {}
        if self.access_log.exists():
            for line in self.access_log.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] != "-":
                    times[parts[0]] = int(parts[2]) / 1000
        return times


def celery_app():
    from worker.celery_app import app

    return app


class Worker(Proc):
    """A real Celery worker subprocess on the cache queue (`--pool solo` = one process, one task at a time)."""

    def __init__(self, name: str, workdir: Path, pool: str = "solo", concurrency: int = 1, **env_overrides):
        self.node = f"{name}-{os.getpid()}@{socket.gethostname()}"
        cmd = [
            PY, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--pool", pool, "--concurrency", str(concurrency),
            "-n", self.node, "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        super().__init__(name, cmd, child_env(**env_overrides), workdir)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        app = celery_app()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited:\n{self.tail()}")
            if app.control.ping(destination=[self.node], timeout=0.5):
                return
        raise BenchError(f"worker {self.node} did not answer a ping within {timeout:.0f} s:\n{self.tail()}")


@contextlib.contextmanager
def started_together(**factories):
    """Start every process at once (each factory builds one and waits for its own start-up: WebServer, Worker) and
    yield them by name; all are stopped on leaving, together, and whatever happens. Start-ups are seconds each on a slow
    machine, and a scenario with three servers need not wait for them one after another."""
    with concurrent.futures.ThreadPoolExecutor(len(factories)) as pool:
        futures = {name: pool.submit(factory) for name, factory in factories.items()}
    started, errors = {}, []
    for name, future in futures.items():
        try:
            started[name] = future.result()
        except Exception as exc:  # the others are stopped below; the first error is raised
            errors.append(exc)
    procs = list(started.values())  # the caller may take some out of the dict it gets
    try:
        if errors:
            raise errors[0]
        yield started
    finally:  # stopped together too (a Celery worker's warm shutdown takes most of a second)
        with concurrent.futures.ThreadPoolExecutor(max(1, len(procs))) as pool:
            list(pool.map(lambda proc: proc.stop(), procs))


def workdir(prefix: str = "bench-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
