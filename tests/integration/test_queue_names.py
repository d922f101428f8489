"""Every place that starts a worker consumes exactly the queues of backend/config/queues.py.

A worker started with the wrong -Q consumes nothing and raises no error: events pile up unprocessed. So
each start command (compose, Railway, the worker image, `make run`) is read and its -Q value resolved the
way its shell would, then compared with config.queues.ALL.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import queues
from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

EXPECTED = ",".join(queues.ALL)


def resolve_in_shell(value: str) -> str:
    """Expand `$(...)` in a -Q value as /bin/sh would in the image (its ENV, this venv's python first)."""
    env = {**os.environ, **files.dockerfile_env(files.REPO / "Dockerfile.worker")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(
        ["/bin/sh", "-c", f'printf %s "{value}"'], cwd=files.REPO, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_queues_module_prints_the_list_the_start_commands_use():
    result = subprocess.run(
        [sys.executable, "-m", "config.queues"], cwd=files.REPO / "backend", capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == EXPECTED


def test_tasks_are_routed_to_a_consumed_queue():
    from django.conf import settings

    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues.ALL
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} <= set(queues.ALL)


def test_compose_worker_consumes_the_queues():
    assert resolve_in_shell(files.queue_option(files.compose_command("worker"))) == EXPECTED


def test_worker_image_default_command_consumes_the_queues():
    cmd = files.dockerfile_cmd(files.REPO / "Dockerfile.worker")
    assert resolve_in_shell(files.queue_option(cmd)) == EXPECTED


def test_railway_worker_consumes_the_queues():
    assert resolve_in_shell(files.queue_option(files.railway_start_command("worker"))) == EXPECTED


def test_make_run_worker_consumes_the_queues():
    result = subprocess.run(["make", "-s", "show-commands"], cwd=files.REPO, capture_output=True, text=True, check=True)
    worker_line = next(line for line in result.stdout.splitlines() if line.startswith("worker: "))
    argv = worker_line.removeprefix("worker: ").split()
    assert files.queue_option(argv) == EXPECTED
