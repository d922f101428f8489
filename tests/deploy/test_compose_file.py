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
    # One beat per shape: `docker compose up` starts `beat`; the scale profile is run as `up web-scale worker-scale
    # beat-scale` (docker-compose.yml's header), and beat-scale runs only in that profile.
    assert beats == ["beat", "beat-scale"]
    assert "profiles" not in services["beat"] and services["beat-scale"]["profiles"] == ["scale"]
    assert services["beat-scale"]["deploy"]["replicas"] == 1


def test_web_binds_all_interfaces_on_port():
    # WEB_HOST is unset in compose (the Procfile's default, [::]); `make run` sets 127.0.0.1.
    script = files.compose_command("web")[-1]
    assert "--bind ${WEB_HOST:-[::]}:${PORT:-8000}" in script
    assert "WEB_HOST" not in files.compose_environment("web")


MONITORING = {"flower", "prometheus"}
REDIS_NODES = [f"redis-node-{i}" for i in range(1, 7)]
SCALE = {"rabbitmq", *REDIS_NODES, "redis-cluster-create", "web-scale", "worker-scale", "beat-scale"}


def test_monitoring_and_scale_out_are_opt_in_behind_their_profiles():
    for name in MONITORING:
        assert files.compose_service(name)["profiles"] == ["monitoring"]
    for name in SCALE:
        assert files.compose_service(name)["profiles"] == ["scale"]
    for name, service in files.compose()["services"].items():
        if name not in MONITORING | SCALE:
            assert "profiles" not in service, f"{name} would not start with a plain `docker compose up`"


def test_the_plain_stack_keeps_the_redis_broker_and_the_standalone_cache():
    for service in APP_SERVICES:
        environment = files.compose_environment(service)
        assert "CELERY_BROKER_URL" not in environment and "REDIS_CLUSTER_URL" not in environment


def test_docker_compose_scale_profile_config_validates():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose); CI installs it")
    result = subprocess.run(
        [binary, "-f", str(files.COMPOSE_FILE), "--profile", "scale", "config", "-q"],
        cwd=files.REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_scale_profile_runs_two_workers_on_rabbitmq_and_the_redis_cluster():
    worker = files.compose_service("worker-scale")
    assert worker["deploy"]["replicas"] == 2
    assert files.compose_command("worker-scale") == files.compose_command("worker")  # the Procfile's line
    for service in ("web-scale", "worker-scale", "beat-scale"):
        environment = files.compose_environment(service)
        assert environment["CELERY_BROKER_URL"] == "amqp://recipe:recipe@rabbitmq:5672/recipe_planner"
        assert environment["REDIS_CLUSTER_URL"] == "redis://redis-node-1:7000"
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        depends = files.compose_service(service)["depends_on"]
        assert depends["rabbitmq"]["condition"] == "service_healthy"
        assert depends["redis-cluster-create"]["condition"] == "service_completed_successfully"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    environment = files.compose_environment("rabbitmq")
    assert environment["RABBITMQ_DEFAULT_VHOST"] == "recipe_planner"
    assert files.compose_service("rabbitmq")["image"].startswith("rabbitmq:3.13")


def test_scale_profile_redis_cluster_is_six_cluster_nodes_joined_with_one_replica_each():
    for name in REDIS_NODES:
        command = shlex.split(files.compose_command(name)[-1])
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert command[command.index("--port") + 1] == "7000"
        assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
        assert files.compose_service(name)["hostname"] == name  # announced to clients instead of its IP
    create = files.compose_service("redis-cluster-create")
    script = files.compose_command("redis-cluster-create")[-1]
    assert "--cluster create" in script and "--cluster-replicas 1" in script and "--cluster-yes" in script
    assert "for i in 1 2 3 4 5 6;" in script and "getent hosts redis-node-$i" in script  # the six nodes' addresses
    assert {name: dep["condition"] for name, dep in create["depends_on"].items()} == dict.fromkeys(
        REDIS_NODES, "service_healthy"
    )


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
