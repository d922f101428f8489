"""Secure by default (issue 4 item 7): production settings pass `check --deploy`, refuse to start
insecurely, mark cookies Secure/HttpOnly/SameSite, accept rediss:// and passwords, and never log them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventcache.redis_url import broker_url, cache_url, mask
from scripts import dev_redis

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MANAGE = str(REPO / "backend" / "manage.py")
STRONG_KEY = "k3y-" + "x9Qw" * 16


def _production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="planner.example.com",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, MANAGE, *args], env=_production_env(**env), capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("key", [None, "", "django-insecure-abc", "changeme"])
def test_production_refuses_a_missing_or_default_secret_key(key):
    result = _manage("check", SECRET_KEY=key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_cookies_are_secure_httponly_and_samesite():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({n: getattr(s, n) for n in ("
        "'SESSION_COOKIE_SECURE','SESSION_COOKIE_HTTPONLY','SESSION_COOKIE_SAMESITE','CSRF_COOKIE_SECURE',"
        "'CSRF_COOKIE_SAMESITE','SECURE_SSL_REDIRECT','SECURE_HSTS_SECONDS','CELERY_ACCEPT_CONTENT',"
        "'CELERY_TASK_SERIALIZER')}))"
    )
    result = _manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["CELERY_ACCEPT_CONTENT"] == ["json"] and values["CELERY_TASK_SERIALIZER"] == "json"


@pytest.mark.single_redis  # about REDIS_URL alone (the subprocess would inherit REDIS_CLUSTER_URL)
def test_a_password_in_redis_url_never_reaches_the_logs():
    secret_url = "redis://:s3cr3t-pass@127.0.0.1:6399/0"
    result = _manage("check", REDIS_URL=secret_url)
    output = result.stdout + result.stderr
    assert "s3cr3t-pass" not in output
    assert "✅ Redis cache configured: redis://:***@127.0.0.1:6399/0" in output


@pytest.mark.single_redis  # about REDIS_URL alone (the subprocess would inherit REDIS_CLUSTER_URL)
def test_a_missing_redis_url_is_named_in_a_warning():
    result = _manage("check", REDIS_URL=None)
    assert "REDIS_URL is not set" in result.stderr


@pytest.mark.parametrize(
    "url, masked",
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://default:pw@host.railway.internal:6380/2", "rediss://default:***@host.railway.internal:6380/2"),
        ("redis://host:6379", "redis://host:6379"),
        ("redis://:pw@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
    ],
)
def test_mask_hides_only_the_password(url, masked):
    assert mask(url) == masked


def test_rediss_and_passwords_survive_the_split_into_cache_and_broker_databases():
    url = "rediss://default:pw@redis.example:6380/4?ssl_cert_reqs=required"
    assert cache_url(url) == "rediss://default:pw@redis.example:6380/4?ssl_cert_reqs=required"
    assert broker_url(url) == "rediss://default:pw@redis.example:6380/5?ssl_cert_reqs=required"


@pytest.mark.single_redis  # about REDIS_URL alone (the subprocess would inherit REDIS_CLUSTER_URL)
def test_a_password_protected_redis_works_end_to_end(tmp_path):
    """A real redis-server with requirepass: the app's cache answers through REDIS_URL's password."""
    import socket
    import time

    import redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        dev_redis.server_argv("redis-server", port, str(tmp_path), "--requirepass", "pw-123"),
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, password="pw-123")
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        code = "from django.core.cache import cache; cache.set('probe', {'ok': 1}); print(cache.get('probe'))"
        result = _manage("shell", "-c", code, REDIS_URL=f"redis://:pw-123@127.0.0.1:{port}/0")
        assert result.returncode == 0, result.stderr
        assert "{'ok': 1}" in result.stdout
        assert "pw-123" not in result.stdout + result.stderr
        assert json.loads(client.get("recipe_planner:1:probe")) == {"ok": 1}  # JSON, not pickle
    finally:
        server.terminate()
        server.wait(timeout=10)
