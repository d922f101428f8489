"""Every command in docker-compose.yml and railway/*.json starts, becomes healthy, and stops cleanly.

No Docker engine here, so each command is read from its file and run directly on this machine, with the
environment its platform would give it:
- compose: the service's `environment` on a clean clone (defaults applied) plus the image's ENV, with the
  hosts `redis` and `postgres` rewritten to this machine (a private redis-server on a free port, and a
  PostgreSQL database of our own);
- Railway: the variables the README tells you to set (SECRET_KEY, REDIS_URL, DATABASE_URL), plus what
  Railway injects (PORT, RAILWAY_PUBLIC_DOMAIN), with DEBUG off as in production.
Healthy means: web answers GET /healthz 200 (on Railway, from host healthcheck.railway.app), the worker
answers the compose health check (`celery inspect ping` for its own node), beat sends a due task. Then
SIGTERM, and each must exit 0 within STOP_SECONDS.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from scripts import dev_redis
from tests.deploy import service_files as files

pytestmark = [pytest.mark.deploy, pytest.mark.integration]

READY_SECONDS = 60  # bound on start-up (imports, migrations check, broker connection) on a loaded 2-core box
STOP_SECONDS = 30
RAILWAY_DOMAIN = "recipe-planner-production.up.railway.app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    beside = Path(sys.executable).parent / "redis-server"
    for candidate in (os.environ.get("REDIS_SERVER_BIN"), str(beside), "/usr/bin/redis-server", "redis-server"):
        if candidate and (Path(candidate).exists() or candidate == "redis-server"):
            return candidate
    return "redis-server"


class Running:
    """One service process, its output in a log file; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed when the process is stopped)
        self.process = subprocess.Popen(
            argv, cwd=files.REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_until(self, check, what: str, timeout: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode} before {what}:\n{self.tail()}")
            if check():
                return
            time.sleep(0.2)
        pytest.fail(f"{self.name}: no {what} within {timeout} s:\n{self.tail()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still running {STOP_SECONDS} s after SIGTERM:\n{self.tail()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """This machine standing in for the platform: a private Redis, a PostgreSQL database of our own."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("the service commands run against PostgreSQL: set DATABASE_URL (make test does when one answers)")
    import psycopg

    server = urlsplit(database_url)
    database = f"{server.path.lstrip('/') or 'recipe_planner'}_deploy"
    maintenance = urlunsplit((server.scheme, server.netloc, "/postgres", "", ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')

    workdir = tmp_path_factory.mktemp("deploy")
    redis_port = free_port()
    redis = subprocess.Popen(
        dev_redis.server_argv(redis_server_binary(), redis_port, str(workdir)),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", redis_port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or redis.poll() is not None:
                redis.kill()
                pytest.fail("the private redis-server for the deploy tests did not start")
            time.sleep(0.05)

    yield {
        "redis_netloc": f"127.0.0.1:{redis_port}",
        "database_url": urlunsplit((server.scheme, server.netloc, f"/{database}", "", "")),
        "logs": workdir,
    }

    redis.terminate()
    redis.wait(timeout=10)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def base_env(dockerfile: Path) -> dict[str, str]:
    """What the image gives every process: its ENV (paths mapped to this checkout); its bin/ is our venv's."""
    env = {key: os.environ[key] for key in ("HOME", "LANG", "TMPDIR") if key in os.environ}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env.update(files.dockerfile_env(dockerfile))
    return env


def on_this_machine(url: str, machine: dict) -> str:
    """Point a compose URL (host `redis` or `postgres`) at this machine's stand-ins."""
    parts = urlsplit(url)
    if parts.hostname == "redis":
        return urlunsplit((parts.scheme, machine["redis_netloc"], parts.path, parts.query, ""))
    if parts.hostname == "postgres":
        return machine["database_url"]
    raise AssertionError(f"unexpected host in {url}")


def compose_env(service: str, machine: dict) -> dict[str, str]:
    env = base_env(files.dockerfile_for(service))
    for key, value in files.compose_environment(service).items():
        env[key] = on_this_machine(value, machine) if key in ("REDIS_URL", "DATABASE_URL") else value
    env["HOSTNAME"] = socket.gethostname()  # what Docker sets: the container's host name
    return env


def railway_env(service: str, machine: dict) -> dict[str, str]:
    dockerfile = files.REPO / files.railway(service)["build"]["dockerfilePath"]
    env = base_env(dockerfile)
    env.update(
        {
            # Set by you (README, "Deploy to Railway"): a secret and two reference variables.
            "SECRET_KEY": secrets.token_urlsafe(50),
            "REDIS_URL": f"redis://{machine['redis_netloc']}/0",
            "DATABASE_URL": machine["database_url"],
            # Injected by Railway.
            "PORT": str(free_port()),
            "RAILWAY_PUBLIC_DOMAIN": RAILWAY_DOMAIN,
            "HOSTNAME": socket.gethostname(),
        }
    )
    return env


def run_to_completion(name: str, argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, cwd=files.REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name} ({argv}) exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def healthz_answers(port: str, host: str):
    def check() -> bool:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=3) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return check


def worker_answers_its_health_check(env: dict[str, str]):
    command = files.compose_healthcheck_shell("worker")

    def check() -> bool:
        return subprocess.run(["/bin/sh", "-c", command], cwd=files.REPO, env=env, capture_output=True).returncode == 0

    return check


def consumed_queues(env: dict[str, str]) -> list[str]:
    """The queues the running worker of this host consumes, as `celery inspect active_queues` reports them."""
    node = f"celery@{env['HOSTNAME']}"
    result = subprocess.run(
        ["celery", "-A", "worker.celery_app", "inspect", "active_queues", "-d", node, "--json", "--timeout", "10"],
        cwd=files.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(queue["name"] for queue in json.loads(result.stdout)[node])


def log_shows(service: Running, pattern: str):
    return lambda: re.search(pattern, service.output()) is not None


def start(name, argv, env, machine) -> Running:
    return Running(name, argv, env, machine["logs"])


# --- migrations: compose's one-off service and Railway's pre-deploy command ------------------------------


def test_compose_migrate_service_migrates(machine):
    run_to_completion("compose migrate", files.compose_command("migrate"), compose_env("migrate", machine))


def test_railway_web_pre_deploy_command_migrates(machine):
    env = railway_env("web", machine)
    for command in files.railway("web")["deploy"]["preDeployCommand"]:
        run_to_completion("railway pre-deploy", shlex.split(command), env)


# --- long-running services -------------------------------------------------------------------------------


def check_web(name: str, argv: list[str], env: dict[str, str], host: str, machine: dict) -> None:
    web = start(name, argv, env, machine)
    try:
        web.wait_until(healthz_answers(env["PORT"], host), "GET /healthz 200")
        assert web.stop() == 0, web.tail()
    finally:
        web.kill()


def check_worker(name: str, argv: list[str], env: dict[str, str], machine: dict) -> None:
    worker = start(name, argv, env, machine)
    try:
        worker.wait_until(log_shows(worker, r"celery@\S+ ready"), "'ready' in its log")
        worker.wait_until(worker_answers_its_health_check(env), "answer to `celery inspect ping` for its node")
        # The worker takes no -Q: it must consume the settings' default queue, the one tasks are sent to.
        assert consumed_queues(env) == [settings.CELERY_TASK_DEFAULT_QUEUE]
        assert worker.stop() == 0, worker.tail()
        assert "Warm shutdown" in worker.output()
    finally:
        worker.kill()


def check_beat(name: str, argv: list[str], env: dict[str, str], machine: dict) -> None:
    beat = start(name, argv, env, machine)
    try:
        beat.wait_until(log_shows(beat, r"Scheduler: Sending due task"), "due task sent (a beat tick)")
        assert beat.stop() == 0, beat.tail()
    finally:
        beat.kill()


def test_compose_web_serves_healthz(machine):
    env = compose_env("web", machine)
    env["PORT"] = str(free_port())  # compose leaves PORT unset (8000); a free port here
    check_web("compose-web", files.compose_command("web"), env, "localhost", machine)


def test_compose_worker_answers_its_health_check(machine):
    check_worker("compose-worker", files.compose_command("worker"), compose_env("worker", machine), machine)


def test_compose_beat_ticks(machine):
    check_beat("compose-beat", files.compose_command("beat"), compose_env("beat", machine), machine)


def test_railway_web_serves_healthz_to_railways_health_checker(machine):
    env = railway_env("web", machine)
    check_web("railway-web", files.railway_start_command("web"), env, "healthcheck.railway.app", machine)


def test_railway_worker_answers_inspect_ping(machine):
    check_worker("railway-worker", files.railway_start_command("worker"), railway_env("worker", machine), machine)


def test_railway_beat_ticks(machine):
    check_beat("railway-beat", files.railway_start_command("beat"), railway_env("beat", machine), machine)
