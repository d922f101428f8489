"""Commands work as printed: settings read the repository's .env (written once by `make run`, scripts/dev_env.py)
without overriding the real environment, and a missing setting is one line on stderr with exit status 1."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SETTING_NAMES = ("DEBUG", "SECRET_KEY", "LOG_LEVEL", "REDIS_URL", "DATABASE_URL", "ENV_FILE", "DJANGO_SETTINGS_MODULE")
SETTING_NAMES += ("REDIS_CLUSTER_URL", "TEST_REDIS_CLUSTER_URL", "CELERY_BROKER_URL")


def _developer_env(**extra):
    """The environment of a developer's shell: none of the app's settings, unless given."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES and k != "TEST_REDIS_URL"}
    env.update(extra)
    return env


def _run(*command, **env):
    return subprocess.run(
        list(command), cwd=REPO, env=_developer_env(**env), capture_output=True, text=True, timeout=120
    )


def test_make_runs_env_file_lets_manage_py_run_as_printed(tmp_path):
    env_file = tmp_path / ".env"
    written = _run(sys.executable, "scripts/dev_env.py", str(env_file), REDIS_URL=os.environ["TEST_REDIS_URL"])
    assert written.returncode == 0, written.stderr
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and line[0] != "#")
    assert values["DEBUG"] == "1" and len(values["SECRET_KEY"]) > 50
    assert values["REDIS_URL"] == os.environ["TEST_REDIS_URL"]
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"

    again = _run(sys.executable, "scripts/dev_env.py", str(env_file))
    assert "left as it is" in again.stderr and env_file.read_text().count("SECRET_KEY=") == 1

    result = _run(sys.executable, "backend/manage.py", "check", ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
    assert f"Redis cache configured: {os.environ['TEST_REDIS_URL']}" in result.stderr


def test_the_real_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=from-the-file-0123456789\nLOG_LEVEL=ERROR  # a comment\n")
    code = "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY, s.LOGGING['root']['level'])"
    result = _run(sys.executable, "backend/manage.py", "shell", "-c", code, ENV_FILE=str(env_file), LOG_LEVEL="WARNING")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "from-the-file-0123456789", "WARNING"]


@pytest.mark.parametrize(
    "command",
    [
        (sys.executable, "backend/manage.py", "invalidate", "recipe"),
        (str(Path(sys.executable).parent / "celery"), "-A", "worker.celery_app", "inspect", "ping"),
    ],
    ids=["manage.py", "celery"],
)
def test_a_missing_setting_is_one_line_on_stderr_and_exit_1(command):
    result = _run(*command, ENV_FILE="")  # no .env, no DEBUG, no SECRET_KEY
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith("error: SECRET_KEY is missing"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("cluster_url", "error"),
    [
        ("redis://127.0.0.1:7000,127.0.0.1:7001", "error: REDIS_CLUSTER_URL is set but there is no Celery broker"),
        ("redis://127.0.0.1:7000/3", "error: REDIS_CLUSTER_URL names a database"),
        ("redis://127.0.0.1", "error: REDIS_CLUSTER_URL: '127.0.0.1' is not host:port"),
    ],
)
def test_a_cluster_url_without_a_broker_or_malformed_is_refused(cluster_url, error):
    result = _run(sys.executable, "backend/manage.py", "check", ENV_FILE="", DEBUG="1", REDIS_CLUSTER_URL=cluster_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(error), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_bench_gets_a_redis_of_its_own_never_the_one_on_6379():
    """`make bench` (with_services.py --own-redis) empties the Redis databases it uses: without REDIS_URL it must
    run on a Redis it started, even when one answers on 127.0.0.1:6379 (CI's, or a developer's with make run's data)."""
    shown = _run(
        sys.executable,
        "scripts/with_services.py",
        "--own-redis",
        "--",
        sys.executable,
        "-c",
        "import os, redis; url = os.environ['REDIS_URL']; redis.Redis.from_url(url).ping(); print(url)",
    )
    assert shown.returncode == 0, shown.stderr
    url = shown.stdout.strip()
    assert url.startswith("redis://127.0.0.1:") and ":6379/" not in url, url
    assert "started an embedded redis-server" in shown.stderr

    chosen = _run(
        sys.executable, "scripts/with_services.py", "--own-redis", "--", sys.executable, "-c",
        "import os; print(os.environ['REDIS_URL'])", REDIS_URL=os.environ["TEST_REDIS_URL"],
    )  # fmt: skip
    assert chosen.stdout.strip() == os.environ["TEST_REDIS_URL"]  # an explicit REDIS_URL is the user's choice
