"""railway/{web,worker,beat}.json: Railway config-as-code, checked against a schema written here.

The schema covers the fields we use, with the names and types of Railway's config-as-code reference
(https://docs.railway.com/config-as-code/reference); unknown fields are refused so a typo cannot pass.
The network is not available in CI, so Railway's own schema cannot be fetched.
"""

import shlex

import pytest
from jsonschema import Draft202012Validator

from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

RAILWAY_SCHEMA = {
    "type": "object",
    "required": ["$schema", "build", "deploy"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"const": "https://railway.com/railway.schema.json"},
        "build": {
            "type": "object",
            "required": ["builder", "dockerfilePath"],
            "additionalProperties": False,
            "properties": {
                "builder": {"enum": ["DOCKERFILE"]},
                "dockerfilePath": {"type": "string", "minLength": 1},
                "watchPatterns": {"type": "array", "items": {"type": "string"}},
            },
        },
        "deploy": {
            "type": "object",
            "required": ["startCommand", "restartPolicyType"],
            "additionalProperties": False,
            "properties": {
                "startCommand": {"type": "string", "minLength": 1},
                "preDeployCommand": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                "healthcheckPath": {"type": "string", "pattern": "^/"},
                "healthcheckTimeout": {"type": "integer", "minimum": 1},
                "restartPolicyType": {"enum": ["ON_FAILURE", "ALWAYS", "NEVER"]},
                "restartPolicyMaxRetries": {"type": "integer", "minimum": 1},
                "numReplicas": {"type": "integer", "minimum": 1},
                "overlapSeconds": {"type": "integer", "minimum": 0},
                "drainingSeconds": {"type": "integer", "minimum": 0},
            },
        },
    },
}


@pytest.mark.parametrize("service", files.RAILWAY_SERVICES)
def test_config_matches_the_schema(service):
    errors = sorted(Draft202012Validator(RAILWAY_SCHEMA).iter_errors(files.railway(service)), key=str)
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)


def test_the_schema_refuses_a_misspelt_field():
    config = files.railway("web")
    broken = {**config, "deploy": {**config["deploy"], "healthCheckPath": "/healthz"}}
    assert list(Draft202012Validator(RAILWAY_SCHEMA).iter_errors(broken))


@pytest.mark.parametrize(
    "service, dockerfile", [("web", "Dockerfile"), ("worker", "Dockerfile.worker"), ("beat", "Dockerfile.worker")]
)
def test_each_service_builds_its_dockerfile(service, dockerfile):
    build = files.railway(service)["build"]
    assert build["dockerfilePath"] == dockerfile
    assert (files.REPO / build["dockerfilePath"]).is_file()


def test_web_migrates_before_deploy_and_is_health_checked():
    deploy = files.railway("web")["deploy"]
    assert deploy["preDeployCommand"] == ["python backend/manage.py migrate --noinput"]
    assert deploy["healthcheckPath"] == "/healthz"


def test_web_binds_ipv6_on_the_injected_port():
    # Railway runs a Dockerfile service's start command in exec form: $PORT needs the explicit shell.
    # WEB_HOST is not set on Railway (README), so the Procfile's default [::] applies.
    argv = files.railway_start_command("web")
    assert argv[:2] == ["/bin/sh", "-c"]
    assert "--bind ${WEB_HOST:-[::]}:${PORT:-8000}" in argv[2]


@pytest.mark.parametrize("service", ["worker", "beat"])
def test_worker_and_beat_serve_no_http_health_check_and_run_no_migrations(service):
    deploy = files.railway(service)["deploy"]
    assert "healthcheckPath" not in deploy
    assert "preDeployCommand" not in deploy


def test_exactly_one_beat_without_overlap_during_deploys():
    deploy = files.railway("beat")["deploy"]
    assert deploy["numReplicas"] == 1
    assert deploy["overlapSeconds"] == 0
    assert shlex.split(files.railway_start_command("beat")[-1])[-2:] == ["-s", "/tmp/celerybeat-schedule"]


@pytest.mark.parametrize("service", ["web", "beat"])
def test_web_and_beat_restart_on_failure(service):
    deploy = files.railway(service)["deploy"]
    assert deploy["restartPolicyType"] == "ON_FAILURE"
    assert deploy["restartPolicyMaxRetries"] >= 1


def test_the_worker_restarts_always():
    # Whatever its exit code: the worker's death leaves dependents stale (issue 12); no retry cap to run out of.
    deploy = files.railway("worker")["deploy"]
    assert deploy["restartPolicyType"] == "ALWAYS"
    assert "restartPolicyMaxRetries" not in deploy


def test_the_scale_out_worker_config_is_the_worker_with_two_replicas():
    # railway/worker-scale.json: the worker service of the RabbitMQ shape (README "When one Redis is not enough").
    # Several replicas consume the one quorum queue; beat stays at one.
    scale = files.railway("worker-scale")
    errors = sorted(Draft202012Validator(RAILWAY_SCHEMA).iter_errors(scale), key=str)
    assert not errors, errors
    assert scale["deploy"]["numReplicas"] == 2
    worker = files.railway("worker")
    assert {**scale, "deploy": {**scale["deploy"], "numReplicas": 1}} == worker
