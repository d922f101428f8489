"""The Procfile is the one list of process commands: `make run`, docker-compose.yml, railway/*.json and the
images' CMD all run exactly its lines (each as `/bin/sh -c "exec <line>"`), and every long-running one is
restarted when it exits.

Running the commands for real is in test_service_commands.py (compose, Railway) and test_make_run.py.
"""

import subprocess

import pytest

from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

SERVICES = ("web", "worker", "beat")


def test_procfile_names_release_web_worker_and_beat():
    assert list(files.procfile()) == ["release", *SERVICES]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_the_procfile_line(service):
    assert files.compose_command(service) == files.procfile_argv(service)


def test_compose_migrate_runs_the_release_line():
    assert files.compose_command("migrate") == files.procfile_argv("release")


@pytest.mark.parametrize("service", SERVICES)
def test_railway_runs_the_procfile_line(service):
    assert files.railway_start_command(service) == files.procfile_argv(service)


def test_railway_pre_deploy_is_the_release_line():
    assert files.railway("web")["deploy"]["preDeployCommand"] == [files.procfile()["release"]]


def test_image_default_commands_are_the_procfile_lines():
    dockerfile, worker_dockerfile = files.REPO / "Dockerfile", files.REPO / "Dockerfile.worker"
    assert files.dockerfile_cmd(dockerfile) == files.procfile_argv("web")  # `docker build .`: the last stage
    assert files.dockerfile_cmd(dockerfile, stage="worker") == files.procfile_argv("worker")
    assert files.dockerfile_cmd(worker_dockerfile) == files.procfile_argv("worker")


def test_the_worker_consumes_the_settings_queues_not_a_q_option():
    # Queue names live in the settings (CELERY_TASK_DEFAULT_QUEUE); a -Q here could name a queue nobody sends to.
    argv = files.procfile()["worker"].split()
    assert argv[:4] == ["celery", "-A", "worker.celery_app", "worker"]
    assert "-Q" not in argv and "--queues" not in argv


@pytest.mark.parametrize("service", SERVICES)
def test_compose_restarts_every_long_running_service(service):
    assert files.compose_service(service)["restart"] == "unless-stopped"
    assert files.compose_service("migrate")["restart"] == "no"


def test_railway_restarts_the_worker_whatever_its_exit_code():
    # A worker that exits (issue 12: kombu's restore on a Redis blip) must come back, with no retry cap.
    assert files.railway("worker")["deploy"]["restartPolicyType"] == "ALWAYS"


def test_show_commands_prints_the_procfile():
    result = subprocess.run(["make", "-s", "show-commands"], cwd=files.REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shown = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert shown == files.procfile()
