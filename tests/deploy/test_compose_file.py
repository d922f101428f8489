"""docker-compose.yml: valid for Debian's docker-compose, and shaped so the stack starts safely.

Running each service's command for real is in test_service_commands.py.
"""

import re
import shlex
import shutil
import subprocess

import pytest

from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

APP_SERVICES = ("migrate", "web", "worker", "beat")


def test_docker_compose_config_validates():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose); CI installs it")
    result = subprocess.run(
        [binary, "-f", str(files.COMPOSE_FILE), "config", "-q"], cwd=files.REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_redis_never_evicts_and_has_a_memory_bound():
    command = files.compose_command("redis")
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert re.fullmatch(r"\d+[kmg]b", command[command.index("--maxmemory") + 1])
    assert files.compose_service("redis")["image"] == "redis:7"


def test_redis_and_postgres_have_health_checks_and_postgres_a_volume():
    assert files.compose_service("redis")["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "pg_isready" in " ".join(files.compose_service("postgres")["healthcheck"]["test"])
    assert files.compose_service("postgres")["image"] == "postgres:16"
    volume = files.compose_service("postgres")["volumes"][0].split(":")[0]
    assert volume in files.compose()["volumes"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_start_after_redis_and_postgres_are_healthy(service):
    depends = files.compose_service(service)["depends_on"]
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    if service != "migrate":
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_app_services_share_one_environment_pointing_at_the_compose_services():
    environments = [files.compose_environment(service) for service in APP_SERVICES]
    assert all(environment == environments[0] for environment in environments)
    assert environments[0]["REDIS_URL"] == "redis://redis:6379/0"
    assert (
        environments[0]["DATABASE_URL"].startswith("postgres://")
        and "@postgres:5432/" in environments[0]["DATABASE_URL"]
    )


def test_every_variable_compose_reads_is_documented_in_env_example():
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", files.COMPOSE_FILE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (files.REPO / ".env.example").read_text(), re.M))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"
    assert ".env" in (files.REPO / ".gitignore").read_text().split()


def test_worker_health_check_pings_its_own_node():
    assert files.compose_healthcheck_shell("worker") == (
        "celery -A worker.celery_app inspect ping -d celery@$HOSTNAME --timeout 5"
    )


def test_exactly_one_beat_with_a_throwaway_schedule_file():
    beat = files.compose_service("beat")
    command = shlex.split(files.compose_command("beat")[-1])
    assert command[command.index("-s") + 1].startswith("/tmp/")
    assert beat["deploy"]["replicas"] == 1
    services = files.compose()["services"]
    beats = [n for n, s in services.items() if "command" in s and "beat" in " ".join(files.compose_command(n)).split()]
    assert beats == ["beat"]


def test_web_binds_all_interfaces_on_port():
    # WEB_HOST is unset in compose (the Procfile's default, [::]); `make run` sets 127.0.0.1.
    script = files.compose_command("web")[-1]
    assert "--bind ${WEB_HOST:-[::]}:${PORT:-8000}" in script
    assert "WEB_HOST" not in files.compose_environment("web")


MONITORING = {"flower", "prometheus"}


def test_monitoring_is_opt_in_behind_the_monitoring_profile():
    for name in MONITORING:
        assert files.compose_service(name)["profiles"] == ["monitoring"]
    for name, service in files.compose()["services"].items():
        if name not in MONITORING:
            assert "profiles" not in service, f"{name} would not start with a plain `docker compose up`"


@pytest.mark.parametrize(
    "service, dockerfile, target",
    [
        ("web", "Dockerfile", "web"),
        ("migrate", "Dockerfile", "web"),
        ("worker", "Dockerfile.worker", "worker"),
        ("beat", "Dockerfile.worker", "worker"),
    ],
)
def test_app_images_are_the_repo_dockerfiles(service, dockerfile, target):
    assert files.dockerfile_for(service).name == dockerfile
    assert files.compose_service(service)["build"]["target"] == target
    assert target in files.dockerfile_stages(files.dockerfile_for(service))
